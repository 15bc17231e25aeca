using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Narwhal.Http;
using Narwhal.Logging;

namespace Narwhal.Worker;

/// <summary>Kestrel's entry point: hands each request to a Python thread and waits, without blocking a Kestrel thread.</summary>
internal sealed class WsgiHttpApplication(PythonThreads python, DrainSignal drain, int bodyBufferSize, RequestRules rules,
    RequestRecorder recorder) : IHttpApplication<KestrelExchange>
{
    public KestrelExchange CreateContext(IFeatureCollection contextFeatures)
    {
        contextFeatures.Get<FirstRequestFeature>()?.Arrived();
        return new(contextFeatures, drain, rules);
    }

    public async Task ProcessRequestAsync(KestrelExchange context)
    {
        var reject = RequestPolicy.Check(rules, context.Request, context.FromTrustedForwarder);
        if (reject == 0 && context.SchemeHeadersConflict) reject = StatusCodes.Status400BadRequest;
        if (reject == 0 && bodyBufferSize > 0) reject = await context.ReceiveBodyAsync(bodyBufferSize);
        if (reject < 0) return; // the client is gone
        if (reject != 0)
        {
            context.Reject(reject);
            if (recorder.On) recorder.Record(context.Record());
            return;
        }
        if (ErrorLog.Threshold == LogLevel.Debug)
        {
            // Gunicorn's default pre_request hook; then its gthread worker's line when the
            // response ends the connection (resp.should_close()).
            ErrorLog.Debug($"{context.Method} {context.RawTarget.Split('?')[0]}");
            context.OnSent(closes => { if (closes) ErrorLog.Debug("Closing connection."); });
        }
        python.Enqueue(context);
        await context.Completion;
        await context.FinishAsync();
        if (recorder.On) recorder.Record(context.Record());
    }

    public void DisposeContext(KestrelExchange context, Exception? exception) { }
}
