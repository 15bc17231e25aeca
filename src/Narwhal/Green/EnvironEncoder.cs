using Narwhal.Loop;
using Narwhal.Python;
using Narwhal.Wsgi;

namespace Narwhal.Green;

/// <summary>A request as the green glue takes it: the WSGI environ the threaded worker builds, its wsgi.input naming the cycle.</summary>
internal sealed class EnvironEncoder(EnvironBuilder environ) : IRequestEncoder
{
    public PyOwned Encode(LoopCycle cycle) => environ.Build(cycle.Exchange);
}
