using System.IO.Pipelines;

namespace Narwhal.Http;

/// <summary>A connection's two directions, when a middleware puts its own pipe on one of them.</summary>
internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;
    public PipeWriter Output { get; } = output;
}
