using System.Text.Json;
using Narwhal.Python;

namespace Narwhal.Settings;

/// <summary>
/// The config file, evaluated by the embedded interpreter of the user's Python exactly as
/// Gunicorn evaluates it, and the Python objects hooks receive (cfg, server, worker). The
/// glue module is loaded only in processes where Python runs anyway.
/// </summary>
internal static class ConfigFile
{
    private static PyStored? _glue;

    /// <summary>Called with the glue module once it is loaded (GIL held): Program gives it the error log's <c>_log</c>.</summary>
    public static Action<PyBorrowed>? GlueLoaded { get; set; }

    /// <summary>The glue module, loaded on first use; null if this process has no interpreter.</summary>
    public static PyBorrowed Glue
    {
        get
        {
            if (_glue != null || !EmbeddedPython.IsStarted) return _glue?.Borrowed ?? default;
            using (Gil.Take())
            {
                _glue = EmbeddedPython.LoadModule("narwhal_config.py", "narwhal_config").Store();
                GlueLoaded?.Invoke(_glue);
            }
            return _glue;
        }
    }

    /// <summary>Runs the file (PATH, file:PATH or python:MODULE); returns what it sets, by setting.</summary>
    /// <param name="source">The file's text to run instead of reading the file (a worker runs what its master ran).</param>
    public static List<(Setting Setting, FileValue Value)> Evaluate(string location, string? source)
    {
        var glue = Glue;
        using var gil = Gil.Take();
        using var load = Interop.GetAttr(glue, "load");
        using var path = Interop.Str(location);
        using var known = Interop.StrList(SettingsRegistry.All.Select(s => s.Name).ToList());
        using var hooks = Containers.Dict();
        foreach (var (name, arity) in HookSettings.Arity)
        {
            using var k = Interop.Str(name);
            using var v = Interop.Long(arity);
            Containers.Set(hooks, k, v);
        }
        PyStored found;
        try
        {
            using var text = source != null ? Interop.Str(source) : Interop.NewNone();
            found = Interop.Call(load, path, known, hooks, text).Store();
        }
        catch (PythonException e) when (e.TypeName == "ConfigError")
        {
            throw new ConfigException(e.PythonMessage);
        }
        catch (PythonException e)
        {
            throw new ConfigException($"Failed to read config file: {location}\n{e.PythonTraceback}");
        }
        using (found)
        {
            var result = new List<(Setting, FileValue)>();
            var n = Containers.Count(found);
            for (nint i = 0; i < n; i++)
            {
                var item = Containers.Item(found, i);
                using var name = Containers.ItemOf(item, 0);
                using var kind = Containers.ItemOf(item, 1);
                using var text = Containers.ItemOf(item, 2);
                var setting = SettingsRegistry.Find(Interop.AsString(name)!)!;
                result.Add((setting, new FileValue(Interop.AsString(kind)!, Interop.AsString(text) ?? "")));
            }
            return result;
        }
    }

    /// <summary>Gives the Python side the effective settings (cfg) and this process's pid (server.pid).</summary>
    public static void Publish(Config config, int pid)
    {
        var glue = Glue;
        if (glue.IsNull) return;
        using var gil = Gil.Take();
        using var configure = Interop.GetAttr(glue, "configure");
        using var json = Interop.Str(ToJson(config));
        using var p = Interop.Long(pid);
        Interop.Call(configure, json, p).Dispose();
    }

    /// <summary>Every effective value as JSON, as Python sees it (None for unset optional strings).</summary>
    public static string ToJson(Config config)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var s in SettingsRegistry.All)
            {
                w.WritePropertyName(s.Name);
                if (s == ProcessSettings.User) { w.WriteNumberValue(Owner.Uid(config)); continue; }
                if (s == ProcessSettings.Group) { w.WriteNumberValue(Owner.Gid(config)); continue; }
                if (s == LoggingSettings.LogConfigDict)
                {
                    try { w.WriteRawValue(config.Get(LoggingSettings.LogConfigDict)); }
                    catch (JsonException) { w.WriteStartObject(); w.WriteEndObject(); }
                    continue;
                }
                switch (config.Get(s))
                {
                    case bool b: w.WriteBooleanValue(b); break;
                    case int i: w.WriteNumberValue(i); break;
                    case List<string> list:
                        w.WriteStartArray();
                        foreach (var item in list) w.WriteStringValue(item);
                        w.WriteEndArray();
                        break;
                    case Dictionary<string, string> dict:
                        w.WriteStartObject();
                        foreach (var (k, v) in dict) w.WriteString(k, v);
                        w.WriteEndObject();
                        break;
                    case string str when s.Show(str) == "None": w.WriteNullValue(); break;
                    case var other: w.WriteStringValue(other.ToString()); break;
                }
            }
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
