using System.Runtime.InteropServices;

namespace Narwhal.Python;

/// <summary>
/// Functions written in C# that Python code calls (METH_FASTCALL): the Python glue's
/// <c>_read</c>, <c>_write</c>, <c>_log</c>... Each is an
/// <c>[UnmanagedCallersOnly]</c> method <c>(self, args, nargs)</c> entered holding the GIL,
/// which returns a new reference (<see cref="PyOwned.Steal"/>) or 0 with a Python error set
/// (<see cref="PythonException.Raise(string, string)"/>); nothing may unwind through Python's frames.
/// </summary>
internal static unsafe class NativeFunction
{
    /// <summary>Creates the function and sets it as <paramref name="name"/> on <paramref name="module"/>. Hold the GIL.</summary>
    public static void Define(PyBorrowed module, string name,
        delegate* unmanaged[Cdecl]<PyBorrowed, PyBorrowed*, nint, nint> function)
    {
        // PyMethodDef must outlive the function object: allocate it once, never freed.
        var def = (nint*)NativeMemory.AllocZeroed(4, (nuint)sizeof(nint));
        def[0] = Marshal.StringToCoTaskMemUTF8(name);
        def[1] = (nint)function;
        def[2] = Native.MethFastCall;
        using var fn = PyOwned.Own(Native.PyCFunction_NewEx((nint)def, 0, 0));
        Interop.SetAttr(module, name, fn);
    }
}
