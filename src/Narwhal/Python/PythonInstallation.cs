using System.Diagnostics;

namespace Narwhal.Python;

/// <summary>
/// The Python interpreter a user means: <c>--python PATH</c>, else the active virtualenv
/// (<c>VIRTUAL_ENV</c>), else <c>python3</c> on PATH. It is asked once for what embedding
/// needs: its real executable (through a pyenv shim or a venv symlink) and where its
/// shared libpython lives.
/// </summary>
internal sealed record PythonInstallation(string Executable, string Version, string LibPython)
{
    // Printed by the interpreter itself, so pyenv shims, venvs and custom builds all answer
    // for themselves. sys.executable keeps the venv path, which is what makes
    // sys.prefix and the venv's site-packages right once embedded.
    private const string ProbeScript = """
import sys, sysconfig, os
v = sysconfig.get_config_var
print(sys.executable)
print("%d.%d.%d" % sys.version_info[:3])
names = [v("INSTSONAME"), v("LDLIBRARY"), "libpython%d.%d.so.1.0" % sys.version_info[:2], "libpython%d.%d.so" % sys.version_info[:2]]
dirs = [v("LIBDIR"), os.path.join(v("LIBDIR") or "", v("MULTIARCH") or ""), v("LIBPL"), os.path.join(sys.base_prefix, "lib")]
for d in dirs:
    for n in names:
        if d and n and n.endswith((".so", ".so.1.0")) and os.path.exists(os.path.join(d, n)):
            print(os.path.join(d, n)); raise SystemExit(0)
print("")
""";

    public static PythonInstallation Find(string? explicitPath)
    {
        var candidate = explicitPath;
        if (string.IsNullOrEmpty(candidate))
        {
            var venv = Environment.GetEnvironmentVariable("VIRTUAL_ENV");
            candidate = !string.IsNullOrEmpty(venv) && File.Exists(Path.Combine(venv, "bin", "python"))
                ? Path.Combine(venv, "bin", "python")
                : "python3";
        }
        return Probe(candidate);
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
        if (lib.Length == 0)
            throw new PythonNotUsableException(
                $"Python {version} at '{executable}' has no shared libpython (libpython*.so); " +
                "Narwhal embeds Python and needs one: install your distribution's libpython package " +
                "(Debian: libpython3.X) or build Python with --enable-shared");
        return new PythonInstallation(executable, version, lib);
    }
}

internal sealed class PythonNotUsableException(string message) : Exception(message);
