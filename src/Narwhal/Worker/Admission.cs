using Microsoft.AspNetCore.Http;
using Narwhal.Http;
using Narwhal.Logging;

namespace Narwhal.Worker;

/// <summary>
/// What every request passes before a protocol adapter sees it, the same for WSGI and ASGI:
/// the request rules, trusted scheme headers, and the body pre-buffering that keeps a slow
/// client's small body off the app's time. A refused request is answered here.
/// </summary>
internal sealed class Admission(DrainSignal drain, int bodyBufferSize, RequestRules rules, RequestRecorder recorder)
{
    public DrainSignal Drain => drain;
    public RequestRules Rules => rules;
    public RequestRecorder Recorder => recorder;

    public KestrelExchange Create(Microsoft.AspNetCore.Http.Features.IFeatureCollection features)
    {
        features.Get<FirstRequestFeature>()?.Arrived();
        return new(features, drain, rules);
    }

    /// <summary>True when the request may go to the app; false when it was answered (or the client left).</summary>
    public async ValueTask<bool> AdmitAsync(KestrelExchange context)
    {
        var reject = RequestPolicy.Check(rules, context.Request, context.FromTrustedForwarder);
        if (reject == 0 && context.SchemeHeadersConflict) reject = StatusCodes.Status400BadRequest;
        if (reject == 0 && bodyBufferSize > 0) reject = await context.ReceiveBodyAsync(bodyBufferSize);
        if (reject < 0) return false; // the client is gone
        if (reject != 0)
        {
            context.Reject(reject);
            if (recorder.On) recorder.Record(context.Record());
            return false;
        }
        if (ErrorLog.Threshold == LogLevel.Debug)
        {
            // Gunicorn's default pre_request hook; then its gthread worker's line when the
            // response ends the connection (resp.should_close()).
            ErrorLog.Debug($"{context.Method} {context.RawTarget.Split('?')[0]}");
            var id = context.ConnectionId;
            // Gunicorn does not read again from a connection it is closing: the client's FIN
            // that may follow is not its "Closing connection. " line.
            if (context.ClientAsksToClose) KestrelLogForwarder.Closing(id);
            context.OnSent(closes =>
            {
                if (!closes) return;
                KestrelLogForwarder.Closing(id);
                ErrorLog.Debug("Closing connection.");
            });
        }
        return true;
    }
}
