using System.Text;

namespace Narwhal.Python;

/// <summary>Small conversions between .NET and Python values. Every method requires the GIL.</summary>
internal static unsafe class Interop
{
    private static nint _none;
    private static PyRef _formatException;

    /// <summary>Py_None, borrowed.</summary>
    public static nint None => _none != 0 ? _none : (_none = PythonLibrary.Export("_Py_NoneStruct"));

    public static PyRef NewNone() => PyRef.Borrow(None);

    public static PyRef Str(string s)
    {
        var max = Encoding.UTF8.GetMaxByteCount(s.Length);
        Span<byte> buf = max <= 512 ? stackalloc byte[max] : new byte[max];
        var n = Encoding.UTF8.GetBytes(s, buf);
        fixed (byte* p = buf) return PyRef.Own(Native.PyUnicode_FromStringAndSize(p, n));
    }

    /// <summary>A str whose code points are the given bytes (PEP 3333 "native strings" are latin-1).</summary>
    public static PyRef Latin1(ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes) return PyRef.Own(Native.PyUnicode_DecodeLatin1(p, bytes.Length, null));
    }

    /// <summary>A str from a .NET string holding only code points below 256 (Kestrel's latin-1 decoded headers).</summary>
    public static PyRef Latin1(string s)
    {
        Span<byte> buf = s.Length <= 1024 ? stackalloc byte[s.Length] : new byte[s.Length];
        Encoding.Latin1.GetBytes(s, buf);
        return Latin1(buf);
    }

    public static PyRef Interned(string ascii)
    {
        var bytes = Encoding.UTF8.GetBytes(ascii + "\0");
        fixed (byte* p = bytes) return PyRef.Own(Native.PyUnicode_InternFromString(p));
    }

    public static PyRef Bytes(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data) return PyRef.Own(Native.PyBytes_FromStringAndSize(p, data.Length));
    }

    /// <summary>A new list of str.</summary>
    public static PyRef StrList(IReadOnlyList<string> items)
    {
        var list = PyRef.Own(Native.PyList_New(0));
        foreach (var item in items)
        {
            using var s = Str(item);
            if (Native.PyList_Append(list.Handle, s.Handle) != 0) throw PythonException.Fetch();
        }
        return list;
    }

    public static PyRef Long(long v) => PyRef.Own(Native.PyLong_FromLongLong(v));

    public static PyRef Bool(bool v) => PyRef.Own(Native.PyBool_FromLong(v ? 1 : 0));

    public static string? AsString(nint str)
    {
        nint size;
        var p = Native.PyUnicode_AsUTF8AndSize(str, &size);
        if (p == null)
        {
            Native.PyErr_Clear();
            return null;
        }
        return Encoding.UTF8.GetString(p, (int)size);
    }

    public static PyRef Import(string module)
    {
        var bytes = Encoding.UTF8.GetBytes(module + "\0");
        fixed (byte* p = bytes) return PyRef.Own(Native.PyImport_ImportModule(p));
    }

    public static PyRef GetAttr(nint obj, string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = bytes) return PyRef.Own(Native.PyObject_GetAttrString(obj, p));
    }

    public static void SetAttr(nint obj, string name, nint value)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = bytes)
            if (Native.PyObject_SetAttrString(obj, p, value) != 0) throw PythonException.Fetch();
    }

    /// <summary>Calls <paramref name="callable"/> with positional arguments (borrowed).</summary>
    public static PyRef Call(nint callable, params ReadOnlySpan<nint> args)
    {
        using var tuple = PyRef.Own(Native.PyTuple_New(args.Length));
        for (var i = 0; i < args.Length; i++)
        {
            Native.Py_IncRef(args[i]);
            Native.PyTuple_SetItem(tuple.Handle, i, args[i]);
        }
        return PyRef.Own(Native.PyObject_Call(callable, tuple.Handle, 0));
    }

    public static string? GetStringAttr(nint obj, string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        nint attr;
        fixed (byte* p = bytes) attr = Native.PyObject_GetAttrString(obj, p);
        if (attr == 0)
        {
            Native.PyErr_Clear();
            return null;
        }
        try { return AsString(attr); }
        finally { Native.Py_DecRef(attr); }
    }

    public static string ToStringOrEmpty(nint obj)
    {
        var s = Native.PyObject_Str(obj);
        if (s == 0)
        {
            Native.PyErr_Clear();
            return "";
        }
        try { return AsString(s) ?? ""; }
        finally { Native.Py_DecRef(s); }
    }

    [ThreadStatic] private static bool _formatting;

    /// <summary>"Traceback (most recent call last): ..." as the traceback module formats it.</summary>
    public static string FormatException(nint type, nint value, nint tb)
    {
        // A failure while formatting fetches its own error, which would format again.
        if (_formatting) return "";
        _formatting = true;
        try
        {
            if (_formatException.IsNull)
            {
                using var traceback = Import("traceback");
                _formatException = GetAttr(traceback.Handle, "format_exception");
            }
            using var lines = Call(_formatException.Handle, type, value != 0 ? value : None, tb != 0 ? tb : None);
            var sb = new StringBuilder();
            var n = Native.PyList_Size(lines.Handle);
            for (nint i = 0; i < n; i++) sb.Append(AsString(Native.PyList_GetItem(lines.Handle, i)));
            return sb.ToString().TrimEnd('\n');
        }
        catch (PythonException)
        {
            return "";
        }
        finally
        {
            _formatting = false;
        }
    }
}
