using System.Runtime.CompilerServices;

namespace Narwhal.Python;

/// <summary>Tuples, dicts, lists and sequences, without the C API's stolen references. Every method requires the GIL.</summary>
internal static class Containers
{
    /// <summary>A new tuple of the items (each gets a new reference, which the tuple owns).</summary>
    public static PyOwned Tuple(params scoped ReadOnlySpan<PyBorrowed> items)
    {
        var tuple = PyOwned.Own(Native.PyTuple_New(items.Length));
        for (var i = 0; i < items.Length; i++)
        {
            Native.Py_IncRef(items[i].Handle);
            Native.PyTuple_SetItem(tuple.Borrowed.Handle, i, items[i].Handle);
        }
        return tuple;
    }

    public static PyOwned Dict() => PyOwned.Own(Native.PyDict_New());

    /// <summary>A shallow copy of a dict.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PyOwned Copy(PyBorrowed dict) => PyOwned.Own(Native.PyDict_Copy(dict.Handle));

    /// <summary>dict[key] = value (both get a new reference).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Set(PyBorrowed dict, PyBorrowed key, PyBorrowed value)
    {
        if (Native.PyDict_SetItem(dict.Handle, key.Handle, value.Handle) != 0) throw PythonException.Fetch();
    }

    public static PyOwned List() => PyOwned.Own(Native.PyList_New(0));

    public static void Append(PyBorrowed list, PyBorrowed item)
    {
        if (Native.PyList_Append(list.Handle, item.Handle) != 0) throw PythonException.Fetch();
    }

    /// <summary>The length of a list.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint Count(PyBorrowed list) => Native.PyList_Size(list.Handle);

    /// <summary>list[index], borrowed from the list.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PyBorrowed Item(PyBorrowed list, nint index) => new(Native.PyList_GetItem(list.Handle, index));

    /// <summary>len(seq) of any sequence; -1 with a Python error set if it is none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint Length(PyBorrowed sequence) => Native.PySequence_Size(sequence.Handle);

    /// <summary>seq[index] of any sequence (a tuple from the glue), a new reference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PyOwned ItemOf(PyBorrowed sequence, nint index) => PyOwned.Own(Native.PySequence_GetItem(sequence.Handle, index));
}
