using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Narwhal.Http;

namespace Narwhal.Worker;

/// <summary>Kestrel's entry point for WSGI: hands each request to a Python thread and waits, without blocking a Kestrel thread.</summary>
internal sealed class WsgiHttpApplication(PythonThreads python, Admission admission) : IHttpApplication<KestrelExchange>
{
    public KestrelExchange CreateContext(IFeatureCollection contextFeatures) => admission.Create(contextFeatures);

    public async Task ProcessRequestAsync(KestrelExchange context)
    {
        if (!await admission.AdmitAsync(context)) return;
        python.Enqueue(context);
        await context.Completion;
        await context.FinishAsync();
        if (admission.Recorder.On) admission.Recorder.Record(context.Record());
    }

    public void DisposeContext(KestrelExchange context, Exception? exception) { }
}
