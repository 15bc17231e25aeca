using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Narwhal.Logging;

namespace Narwhal.Http;

/// <summary>
/// TLS for one accepted connection, as a Kestrel connection middleware: the handshake runs
/// on the connection (never on a Python thread), then Kestrel reads and writes plaintext
/// through the <see cref="SslStream"/>. Kestrel's own UseHttps needs its generic-host
/// services, which this low-level server does not build.
/// </summary>
internal sealed class TlsConnection(ConnectionDelegate next, SslServerAuthenticationOptions options, TimeSpan handshakeTimeout)
{
    /// <summary>True when ALPN chose HTTP/2 for this connection (it then carries no HTTP/1 text).</summary>
    public static bool NegotiatedHttp2(ConnectionContext context) =>
        context.Features.Get<ITlsApplicationProtocolFeature>()?.ApplicationProtocol.Span.SequenceEqual("h2"u8) == true;

    public async Task OnConnectionAsync(ConnectionContext context)
    {
        var transport = context.Transport;
        var ssl = new SslStream(new DuplexStream(transport), leaveInnerStreamOpen: false);
        try
        {
            using (var timeout = new CancellationTokenSource(handshakeTimeout))
                await ssl.AuthenticateAsServerAsync(options, timeout.Token);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
        {
            ErrorLog.Debug($"TLS handshake failed from {context.RemoteEndPoint}: {e.Message}");
            await ssl.DisposeAsync();
            return;
        }
        var feature = new TlsFeature(ssl);
        context.Features.Set<ITlsConnectionFeature>(feature);
        context.Features.Set<ITlsHandshakeFeature>(feature);
        context.Features.Set<ITlsApplicationProtocolFeature>(feature);
        context.Transport = new DuplexPipe(PipeReader.Create(ssl, new StreamPipeReaderOptions(leaveOpen: true)),
                                     PipeWriter.Create(ssl, new StreamPipeWriterOptions(leaveOpen: true)));
        try
        {
            await next(context);
        }
        finally
        {
            context.Transport = transport;
            await ssl.DisposeAsync();
        }
    }

    /// <summary>The transport's pipes as the Stream SslStream reads ciphertext from and writes it to.</summary>
    private sealed class DuplexStream(IDuplexPipe pipe) : Stream
    {
        private readonly Stream _input = pipe.Input.AsStream(leaveOpen: true);
        private readonly Stream _output = pipe.Output.AsStream(leaveOpen: true);

        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _input.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken token = default) => _input.ReadAsync(buffer, token);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken token) => _input.ReadAsync(buffer, offset, count, token);
        public override void Write(byte[] buffer, int offset, int count) => _output.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken token = default) => _output.WriteAsync(buffer, token);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken token) => _output.WriteAsync(buffer, offset, count, token);
        public override void Flush() => _output.Flush();
        public override Task FlushAsync(CancellationToken token) => _output.FlushAsync(token);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>What the request sees of the TLS session (client certificate, protocol).</summary>
    private sealed class TlsFeature(SslStream ssl) : ITlsConnectionFeature, ITlsHandshakeFeature, ITlsApplicationProtocolFeature
    {
        /// <summary>What ALPN agreed on (h2 or http/1.1): Kestrel picks the HTTP version from it.</summary>
        public ReadOnlyMemory<byte> ApplicationProtocol => ssl.NegotiatedApplicationProtocol.Protocol;

        public X509Certificate2? ClientCertificate
        {
            get => ssl.RemoteCertificate as X509Certificate2;
            set => throw new NotSupportedException();
        }

        public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);

        public SslProtocols Protocol => ssl.SslProtocol;
        public TlsCipherSuite? NegotiatedCipherSuite => ssl.NegotiatedCipherSuite;
        public string HostName => ssl.TargetHostName;
#pragma warning disable SYSLIB0058 // the legacy members of ITlsHandshakeFeature; NegotiatedCipherSuite is the one to use
        public CipherAlgorithmType CipherAlgorithm => ssl.CipherAlgorithm;
        public int CipherStrength => ssl.CipherStrength;
        public HashAlgorithmType HashAlgorithm => ssl.HashAlgorithm;
        public int HashStrength => ssl.HashStrength;
        public ExchangeAlgorithmType KeyExchangeAlgorithm => ssl.KeyExchangeAlgorithm;
        public int KeyExchangeStrength => ssl.KeyExchangeStrength;
#pragma warning restore SYSLIB0058
    }
}
