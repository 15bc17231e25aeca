using System.Runtime.InteropServices;

namespace Narwhal.Python;

/// <summary>
/// The CPython C API functions Narwhal calls. Only functions, never struct fields or
/// macros, so one binary works against any CPython 3.9+ libpython. The library name
/// "python" is resolved at run time to the libpython of the user's interpreter
/// (see <see cref="PythonLibrary"/>).
/// </summary>
internal static unsafe partial class Native
{
    internal const string Lib = "python";

    // Compile modes from Python/compile.h (Py_file_input).
    internal const int FileInput = 257;

    // PyMethodDef.ml_flags (methodobject.h): METH_FASTCALL passes (self, args*, nargs).
    internal const int MethFastCall = 0x0080;

    // ---- life cycle and threads ----
    [LibraryImport(Lib)] internal static partial nint Py_DecodeLocale(byte* arg, nint* size);
    [LibraryImport(Lib)] internal static partial void Py_SetProgramName(nint name);
    [LibraryImport(Lib)] internal static partial void Py_InitializeEx(int initsigs);
    [LibraryImport(Lib)] internal static partial int Py_FinalizeEx();
    [LibraryImport(Lib)] internal static partial nint PyEval_SaveThread();
    [LibraryImport(Lib)] internal static partial void PyEval_RestoreThread(nint tstate);
    [LibraryImport(Lib)] internal static partial int PyGILState_Ensure();
    [LibraryImport(Lib)] internal static partial void PyGILState_Release(int state);

    // ---- references ----
    [LibraryImport(Lib)] internal static partial void Py_IncRef(nint o);
    [LibraryImport(Lib)] internal static partial void Py_DecRef(nint o);

    // ---- modules, attributes, calls ----
    [LibraryImport(Lib)] internal static partial nint PyImport_ImportModule(byte* name);
    [LibraryImport(Lib)] internal static partial nint PyImport_ExecCodeModuleEx(byte* name, nint code, byte* pathname);
    [LibraryImport(Lib)] internal static partial nint Py_CompileString(byte* source, byte* filename, int start);
    [LibraryImport(Lib)] internal static partial nint PyObject_GetAttrString(nint o, byte* name);
    [LibraryImport(Lib)] internal static partial int PyObject_SetAttrString(nint o, byte* name, nint value);
    [LibraryImport(Lib)] internal static partial nint PyObject_Call(nint callable, nint args, nint kwargs);
    [LibraryImport(Lib)] internal static partial nint PyObject_Str(nint o);
    [LibraryImport(Lib)] internal static partial int PyObject_IsTrue(nint o);
    [LibraryImport(Lib)] internal static partial nint PyCFunction_NewEx(nint methodDef, nint self, nint module);

    // ---- strings and bytes ----
    [LibraryImport(Lib)] internal static partial nint PyUnicode_FromStringAndSize(byte* utf8, nint size);
    [LibraryImport(Lib)] internal static partial nint PyUnicode_DecodeLatin1(byte* s, nint size, byte* errors);
    [LibraryImport(Lib)] internal static partial nint PyUnicode_InternFromString(byte* utf8);
    [LibraryImport(Lib)] internal static partial byte* PyUnicode_AsUTF8AndSize(nint o, nint* size);
    [LibraryImport(Lib)] internal static partial nint PyUnicode_AsLatin1String(nint o);
    [LibraryImport(Lib)] internal static partial nint PyBytes_FromStringAndSize(byte* s, nint size);
    [LibraryImport(Lib)] internal static partial int PyBytes_AsStringAndSize(nint o, byte** buffer, nint* length);
    [LibraryImport(Lib)] internal static partial byte* PyBytes_AsString(nint o);

    // ---- numbers ----
    [LibraryImport(Lib)] internal static partial nint PyLong_FromLongLong(long v);
    [LibraryImport(Lib)] internal static partial long PyLong_AsLongLong(nint o);
    [LibraryImport(Lib)] internal static partial nint PyBool_FromLong(int v);

    // ---- containers ----
    [LibraryImport(Lib)] internal static partial nint PyDict_New();
    [LibraryImport(Lib)] internal static partial nint PyDict_Copy(nint d);
    [LibraryImport(Lib)] internal static partial int PyDict_SetItem(nint d, nint key, nint value);
    [LibraryImport(Lib)] internal static partial nint PyTuple_New(nint size);
    [LibraryImport(Lib)] internal static partial int PyTuple_SetItem(nint t, nint pos, nint stolen);
    [LibraryImport(Lib)] internal static partial nint PyList_New(nint size);
    [LibraryImport(Lib)] internal static partial int PyList_Append(nint list, nint item);
    [LibraryImport(Lib)] internal static partial nint PyList_Size(nint list);
    [LibraryImport(Lib)] internal static partial nint PyList_GetItem(nint list, nint index);
    [LibraryImport(Lib)] internal static partial nint PySequence_GetItem(nint seq, nint index);
    [LibraryImport(Lib)] internal static partial nint PySequence_Size(nint seq);

    // ---- errors ----
    [LibraryImport(Lib)] internal static partial nint PyErr_Occurred();
    [LibraryImport(Lib)] internal static partial void PyErr_Fetch(nint* type, nint* value, nint* traceback);
    [LibraryImport(Lib)] internal static partial void PyErr_NormalizeException(nint* type, nint* value, nint* traceback);
    [LibraryImport(Lib)] internal static partial void PyErr_Clear();
    [LibraryImport(Lib)] internal static partial void PyErr_SetString(nint type, byte* message);
}
