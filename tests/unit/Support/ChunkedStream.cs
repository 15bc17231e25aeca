namespace Narwhal.Tests.Support;

/// <summary>
/// A read-only stream that hands out its bytes in the pieces given, one piece (at most) per
/// read: under PipeReader.Create, each ReadAsync of the connection sees exactly what a
/// client's packets would have delivered so far.
/// </summary>
internal sealed class ChunkedStream(byte[] data, IReadOnlyList<int> cuts) : Stream
{
    private int _position;
    private int _next; // index into cuts of the next boundary

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        while (_next < cuts.Count && cuts[_next] <= _position) _next++;
        var end = _next < cuts.Count ? cuts[_next] : data.Length;
        var n = Math.Min(buffer.Length, end - _position);
        data.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken token = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken token) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => data.Length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
