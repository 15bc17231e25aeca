using System.Text;

namespace Narwhal.Python;

/// <summary>A Python exception carried into .NET, with the type name, message and formatted traceback.</summary>
internal sealed class PythonException(string typeName, string message, string traceback)
    : Exception($"{typeName}: {message}")
{
    public string TypeName { get; } = typeName;
    public string PythonMessage { get; } = message;
    /// <summary>The traceback as Python's traceback module prints it, ending with the exception line.</summary>
    public string PythonTraceback { get; } = traceback;

    /// <summary>Takes the pending Python error (clearing it). Must hold the GIL.</summary>
    public static unsafe PythonException Fetch()
    {
        nint type, value, tb;
        Native.PyErr_Fetch(&type, &value, &tb);
        if (type == 0)
            return new PythonException("SystemError", "a C-API call failed without setting an exception", "");
        Native.PyErr_NormalizeException(&type, &value, &tb);
        try
        {
            var typeName = Interop.GetStringAttr(new PyBorrowed(type), "__name__") ?? "Exception";
            var message = value != 0 ? Interop.ToStringOrEmpty(new PyBorrowed(value)) : "";
            var formatted = Interop.FormatException(new PyBorrowed(type), new PyBorrowed(value), new PyBorrowed(tb));
            return new PythonException(typeName, message, formatted);
        }
        finally
        {
            if (type != 0) Native.Py_DecRef(type);
            if (value != 0) Native.Py_DecRef(value);
            if (tb != 0) Native.Py_DecRef(tb);
        }
    }

    /// <summary>Sets a Python exception of the given type (PyExc_* export name) for a native callback to return NULL with.</summary>
    public static unsafe void Raise(string excExportName, string message) =>
        Raise(new PyBorrowed(*(nint*)PythonLibrary.Export(excExportName)), message);

    /// <summary>Sets a Python exception of <paramref name="type"/> (a class the glue defines) for a native callback to return NULL with.</summary>
    public static unsafe void Raise(PyBorrowed type, string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message + "\0");
        fixed (byte* p = bytes) Native.PyErr_SetString(type.Handle, p);
    }
}

/// <summary>A C-API call failed and left its Python exception set, to be returned as it is from a native callback.</summary>
internal sealed class PythonErrorPending() : Exception("a Python exception is set");
