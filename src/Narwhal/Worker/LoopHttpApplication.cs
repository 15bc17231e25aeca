using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Narwhal.Loop;
using Narwhal.Http;

namespace Narwhal.Worker;

/// <summary>
/// Kestrel's entry point for ASGI: hands each request to the event loop through the bridge's
/// queue and waits for the app's task to finish with it, without blocking a Kestrel thread.
/// </summary>
internal sealed class LoopHttpApplication(LoopServer server, Admission admission) : IHttpApplication<KestrelExchange>
{
    public KestrelExchange CreateContext(IFeatureCollection contextFeatures) => admission.Create(contextFeatures);

    public async Task ProcessRequestAsync(KestrelExchange context)
    {
        if (!await admission.AdmitAsync(context)) return;
        var cycle = server.Submit(context);
        await context.Completion;
        // An accepted WebSocket owns the connection: it is closed with a code, not as a response.
        if (cycle.Socket != null) await cycle.FinishWebSocketAsync(cycle.Outcome);
        else await context.FinishAsync();
        if (admission.Recorder.On) admission.Recorder.Record(context.Record());
    }

    public void DisposeContext(KestrelExchange context, Exception? exception) { }
}
