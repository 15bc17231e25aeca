using System.Diagnostics;

namespace Narwhal.Python;

/// <summary>
/// The Python interpreter a user means (<see cref="Choose"/> gives the order). It is asked once
/// for what embedding needs: its real executable (through a pyenv shim or a venv symlink),
/// whether it is a build Narwhal can embed, and where its shared libpython lives.
/// </summary>
internal sealed record PythonInstallation(string Executable, string Version, string LibPython)
{
    // Printed by the interpreter itself, so pyenv shims, venvs and custom builds all answer
    // for themselves. sys.executable keeps the venv path, which is what makes
    // sys.prefix and the venv's site-packages right once embedded. The free-threaded flag
    // comes last, so an interpreter that prints only the first three lines is a GIL build.
    private const string ProbeScript = """
import sys, sysconfig, os
v = sysconfig.get_config_var
print(sys.executable)
print("%d.%d.%d" % sys.version_info[:3])
names = [v("INSTSONAME"), v("LDLIBRARY"), "libpython%d.%d.so.1.0" % sys.version_info[:2], "libpython%d.%d.so" % sys.version_info[:2]]
dirs = [v("LIBDIR"), os.path.join(v("LIBDIR") or "", v("MULTIARCH") or ""), v("LIBPL"), os.path.join(sys.base_prefix, "lib")]
found = [os.path.join(d, n) for d in dirs for n in names
         if d and n and n.endswith((".so", ".so.1.0")) and os.path.exists(os.path.join(d, n))]
print(found[0] if found else "")
print("free-threaded" if v("Py_GIL_DISABLED") else "gil")
""";

    public static PythonInstallation Find(string? explicitPath) => Probe(Choose(explicitPath));

    /// <summary>
    /// The interpreter to probe, first match wins: <c>--python PATH</c>; the active virtualenv
    /// (<c>$VIRTUAL_ENV/bin/python</c>); the <c>python3</c> (or <c>python</c>) in the directory
    /// the narwhal binary itself is in, which is how <c>VENV/bin/narwhal</c>, installed by pip
    /// from the wheel, embeds its own venv when run by full path without activating it (as
    /// <c>VENV/bin/gunicorn</c> runs its shebang's interpreter); else <c>python3</c> on PATH.
    /// </summary>
    internal static string Choose(string? explicitPath)
    {
        if (!string.IsNullOrEmpty(explicitPath)) return explicitPath;
        var venv = Environment.GetEnvironmentVariable("VIRTUAL_ENV");
        if (!string.IsNullOrEmpty(venv) && File.Exists(Path.Combine(venv, "bin", "python")))
            return Path.Combine(venv, "bin", "python");
        return BesideBinary() ?? "python3";
    }

    // The binary's real path (/proc/self/exe, so a symlink to VENV/bin/narwhal counts as the
    // venv's). A development build (.build/bin) has no Python beside it and falls through.
    private static string? BesideBinary()
    {
        var dir = Path.GetDirectoryName(Environment.ProcessPath);
        if (string.IsNullOrEmpty(dir)) return null;
        foreach (var name in new[] { "python3", "python" })
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static PythonInstallation Probe(string interpreter)
    {
        var psi = new ProcessStartInfo(interpreter)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-I"); // isolated: the probe must not import user code
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(ProbeScript);
        string output, error;
        int exitCode;
        try
        {
            using var process = Process.Start(psi)!;
            var stderrTask = process.StandardError.ReadToEndAsync();
            output = process.StandardOutput.ReadToEnd();
            error = stderrTask.GetAwaiter().GetResult();
            process.WaitForExit();
            exitCode = process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new PythonNotUsableException($"cannot run Python interpreter '{interpreter}': {e.Message}");
        }
        var lines = output.Split('\n');
        if (exitCode != 0 || lines.Length < 3)
            throw new PythonNotUsableException($"Python interpreter '{interpreter}' failed to report its configuration: {error.Trim()}");

        var (executable, version, lib) = (lines[0].Trim(), lines[1].Trim(), lines[2].Trim());
        var minor = string.Join('.', version.Split('.').Take(2));
        if (lines.Length > 3 && lines[3].Trim() == "free-threaded")
            throw new PythonNotUsableException(
                $"Python {version} at '{executable}' is a free-threaded build (Py_GIL_DISABLED, python{minor}t), " +
                "whose C API Narwhal does not embed: use the same version's regular build with --python " +
                $"(python{minor}, not python{minor}t)");
        if (lib.Length == 0)
            throw new PythonNotUsableException(
                $"Python {version} at '{executable}' has no shared libpython (libpython{minor}.so); " +
                "Narwhal embeds Python and needs one: install your distribution's libpython package " +
                $"(Debian: apt install libpython{minor}), or rebuild this Python with --enable-shared " +
                $"(pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install {version})");
        return new PythonInstallation(executable, version, lib);
    }
}

internal sealed class PythonNotUsableException(string message) : Exception(message);
