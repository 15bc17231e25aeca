using System.Runtime.CompilerServices;
using System.Text;

namespace Narwhal.Python;

/// <summary>
/// Conversions between .NET and Python values, attributes and calls: the safe operations the
/// rest of the server uses instead of the C API. Every method requires the GIL. Arguments are
/// borrowed; a returned <see cref="PyOwned"/> is a new reference for the caller to dispose.
/// </summary>
internal static unsafe class Interop
{
    private static nint _none;
    private static PyStored? _formatException;

    /// <summary>Py_None, borrowed.</summary>
    public static PyBorrowed None => new(_none != 0 ? _none : (_none = PythonLibrary.Export("_Py_NoneStruct")));

    public static PyOwned NewNone() => PyOwned.IncRef(None);

    public static bool IsNone(PyBorrowed o) => o.Is(None);

    public static PyOwned Str(string s)
    {
        var max = Encoding.UTF8.GetMaxByteCount(s.Length);
        Span<byte> buf = max <= 512 ? stackalloc byte[max] : new byte[max];
        var n = Encoding.UTF8.GetBytes(s, buf);
        fixed (byte* p = buf) return PyOwned.Own(Native.PyUnicode_FromStringAndSize(p, n));
    }

    /// <summary>A str whose code points are the given bytes (PEP 3333 "native strings" are latin-1).</summary>
    public static PyOwned Latin1(scoped ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes) return PyOwned.Own(Native.PyUnicode_DecodeLatin1(p, bytes.Length, null));
    }

    /// <summary>A str from a .NET string holding only code points below 256 (Kestrel's latin-1 decoded headers).</summary>
    public static PyOwned Latin1(string s)
    {
        Span<byte> buf = s.Length <= 1024 ? stackalloc byte[s.Length] : new byte[s.Length];
        Encoding.Latin1.GetBytes(s, buf);
        return Latin1(buf);
    }

    public static PyOwned Interned(string ascii)
    {
        var bytes = Encoding.UTF8.GetBytes(ascii + "\0");
        fixed (byte* p = bytes) return PyOwned.Own(Native.PyUnicode_InternFromString(p));
    }

    public static PyOwned Bytes(scoped ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data) return PyOwned.Own(Native.PyBytes_FromStringAndSize(p, data.Length));
    }

    /// <summary>A new list of str.</summary>
    public static PyOwned StrList(IReadOnlyList<string> items)
    {
        var list = Containers.List();
        foreach (var item in items)
        {
            using var s = Str(item);
            Containers.Append(list, s);
        }
        return list;
    }

    public static PyOwned Long(long v) => PyOwned.Own(Native.PyLong_FromLongLong(v));

    public static PyOwned Bool(bool v) => PyOwned.Own(Native.PyBool_FromLong(v ? 1 : 0));

    /// <summary>PyLong_AsLongLong: -1 with a Python error set when <paramref name="o"/> is not an int.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long AsLong(PyBorrowed o) => Native.PyLong_AsLongLong(o.Handle);

    /// <summary>1 true, 0 false, -1 with a Python error set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IsTrue(PyBorrowed o) => Native.PyObject_IsTrue(o.Handle);

    public static string? AsString(PyBorrowed str)
    {
        nint size;
        var p = Native.PyUnicode_AsUTF8AndSize(str.Handle, &size);
        if (p == null)
        {
            Native.PyErr_Clear();
            return null;
        }
        return Encoding.UTF8.GetString(p, (int)size);
    }

    /// <summary>
    /// A bytes object's contents, valid while the object lives; false when it is not bytes,
    /// with the TypeError left set (a native callback returns NULL with it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryGetBytes(PyBorrowed bytes, out ReadOnlySpan<byte> data)
    {
        byte* p;
        nint n;
        if (Native.PyBytes_AsStringAndSize(bytes.Handle, &p, &n) != 0)
        {
            data = default;
            return false;
        }
        data = new ReadOnlySpan<byte>(p, (int)n);
        return true;
    }

    /// <summary>A str as latin-1 (PEP 3333 header text); anything else leaves UnicodeEncodeError set for the app to see.</summary>
    public static string Latin1String(PyBorrowed str)
    {
        var raw = Native.PyUnicode_AsLatin1String(str.Handle);
        if (raw == 0) throw new PythonErrorPending();
        using var encoded = PyOwned.Own(raw);
        if (!TryGetBytes(encoded, out var data)) throw PythonException.Fetch();
        return Encoding.Latin1.GetString(data);
    }

    public static PyOwned Import(string module)
    {
        var bytes = Encoding.UTF8.GetBytes(module + "\0");
        fixed (byte* p = bytes) return PyOwned.Own(Native.PyImport_ImportModule(p));
    }

    public static PyOwned GetAttr(PyBorrowed obj, string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = bytes) return PyOwned.Own(Native.PyObject_GetAttrString(obj.Handle, p));
    }

    public static void SetAttr(PyBorrowed obj, string name, PyBorrowed value)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = bytes)
            if (Native.PyObject_SetAttrString(obj.Handle, p, value.Handle) != 0) throw PythonException.Fetch();
    }

    /// <summary>Calls <paramref name="callable"/> with positional arguments.</summary>
    public static PyOwned Call(PyBorrowed callable, params scoped ReadOnlySpan<PyBorrowed> args)
    {
        using var tuple = Containers.Tuple(args);
        return PyOwned.Own(Native.PyObject_Call(callable.Handle, tuple.Borrowed.Handle, 0));
    }

    /// <summary>Calls <paramref name="callable"/>(*args, **kwargs) with a tuple and a dict.</summary>
    public static PyOwned CallWithKeywords(PyBorrowed callable, PyBorrowed args, PyBorrowed kwargs) =>
        PyOwned.Own(Native.PyObject_Call(callable.Handle, args.Handle, kwargs.Handle));

    public static string? GetStringAttr(PyBorrowed obj, string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        nint attr;
        fixed (byte* p = bytes) attr = Native.PyObject_GetAttrString(obj.Handle, p);
        if (attr == 0)
        {
            Native.PyErr_Clear();
            return null;
        }
        using var owned = PyOwned.Own(attr);
        return AsString(owned);
    }

    public static string ToStringOrEmpty(PyBorrowed obj)
    {
        var s = Native.PyObject_Str(obj.Handle);
        if (s == 0)
        {
            Native.PyErr_Clear();
            return "";
        }
        using var owned = PyOwned.Own(s);
        return AsString(owned) ?? "";
    }

    [ThreadStatic] private static bool _formatting;

    /// <summary>"Traceback (most recent call last): ..." as the traceback module formats it.</summary>
    public static string FormatException(PyBorrowed type, PyBorrowed value, PyBorrowed tb)
    {
        // A failure while formatting fetches its own error, which would format again.
        if (_formatting) return "";
        _formatting = true;
        try
        {
            if (_formatException == null)
            {
                using var traceback = Import("traceback");
                _formatException = GetAttr(traceback, "format_exception").Store();
            }
            using var lines = Call(_formatException, type, value.IsNull ? None : value, tb.IsNull ? None : tb);
            var sb = new StringBuilder();
            var n = Containers.Count(lines);
            for (nint i = 0; i < n; i++) sb.Append(AsString(Containers.Item(lines, i)));
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
