using System.Buffers;

namespace Narwhal.Tests.Support;

/// <summary>A byte sequence made of the given arrays, one segment each, as a pipe hands out reads that arrived apart.</summary>
internal static class Segments
{
    public static ReadOnlySequence<byte> Of(IReadOnlyList<byte[]> parts)
    {
        if (parts.Count == 0) return ReadOnlySequence<byte>.Empty;
        var first = new Segment(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1)) last = last.Append(part);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
