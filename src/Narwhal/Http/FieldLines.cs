namespace Narwhal.Http;

/// <summary>
/// The field lines of a head's field block (CRLF between lines, none after the last), one at
/// a time, without copying: <c>foreach (var line in new FieldLines(fields))</c>.
/// </summary>
internal ref struct FieldLines(ReadOnlySpan<byte> fields)
{
    private ReadOnlySpan<byte> _rest = fields;

    public ReadOnlySpan<byte> Current { get; private set; }

    public readonly FieldLines GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_rest.IsEmpty) return false;
        var eol = _rest.IndexOf("\r\n"u8);
        Current = eol < 0 ? _rest : _rest[..eol];
        _rest = eol < 0 ? default : _rest[(eol + 2)..];
        return true;
    }
}
