using System.Reflection;
using System.Runtime.InteropServices;

namespace Narwhal.Python;

/// <summary>Loads the user's libpython once and points every <see cref="Native"/> import at it.</summary>
internal static partial class PythonLibrary
{
    private const int RtldNow = 0x002;
    private const int RtldGlobal = 0x100;

    private static nint _handle;

    public static void Load(string path)
    {
        // RTLD_GLOBAL: C extension modules (_json, _ssl, numpy...) resolve Py* symbols
        // from the global namespace. With .NET's default RTLD_LOCAL they fail to import
        // and Python silently falls back to slow pure-Python modules.
        _handle = dlopen(path, RtldNow | RtldGlobal);
        if (_handle == 0)
            throw new PythonNotUsableException($"cannot load {path}: {Marshal.PtrToStringUTF8(dlerror())}");
        NativeLibrary.SetDllImportResolver(typeof(PythonLibrary).Assembly, Resolve);
    }

    /// <summary>Address of an exported data symbol such as <c>PyExc_OSError</c> or <c>_Py_NoneStruct</c>.</summary>
    public static nint Export(string name) => NativeLibrary.GetExport(_handle, name);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Native.Lib ? _handle : 0;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint dlopen(string path, int flags);

    [LibraryImport("libc")]
    private static partial nint dlerror();
}
