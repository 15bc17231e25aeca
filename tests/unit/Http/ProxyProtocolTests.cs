using System.Buffers;
using System.Text;
using Narwhal.Http;

namespace Narwhal.Tests.Http;

/// <summary>PROXY protocol headers (haproxy's proxy-protocol.txt), version 1 and version 2.</summary>
public class ProxyProtocolTests
{
    private static (ProxyProtocol.Outcome Outcome, int Length, ProxyProtocolHeader? Header) Read(byte[] data, ProxyProtocolMode mode = ProxyProtocolMode.Auto)
    {
        var outcome = ProxyProtocol.TryRead(new ReadOnlySequence<byte>(data), mode, out var length, out var header);
        return (outcome, length, header);
    }

    private static byte[] Ascii(string s) => Encoding.Latin1.GetBytes(s);

    [Theory]
    [InlineData("off", "Off")]
    [InlineData("v1", "V1")]
    [InlineData("v2", "V2")]
    [InlineData("auto", "Auto")]
    public void ModeFromSetting(string setting, string mode) => Assert.Equal(mode, ProxyProtocol.ParseMode(setting).ToString());

    [Fact]
    public void V1Tcp4()
    {
        var line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
        var (outcome, length, header) = Read(Ascii(line + "GET / HTTP/1.1\r\n"));
        Assert.Equal(ProxyProtocol.Outcome.Parsed, outcome);
        Assert.Equal(line.Length, length);
        Assert.Equal(new ProxyProtocolHeader("TCP4", "192.168.0.1", 56324, "192.168.0.11", 443), header);
    }

    [Fact]
    public void V1Tcp6()
    {
        var (outcome, _, header) = Read(Ascii("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"));
        Assert.Equal(ProxyProtocol.Outcome.Parsed, outcome);
        Assert.Equal(new ProxyProtocolHeader("TCP6", "2001:db8::1", 1, "2001:db8::2", 65535), header);
    }

    [Fact]
    public void V1UnknownKeepsTheConnectionsAddresses()
    {
        var (outcome, length, header) = Read(Ascii("PROXY UNKNOWN\r\nGET"));
        Assert.Equal(ProxyProtocol.Outcome.Parsed, outcome);
        Assert.Equal(15, length);
        Assert.Null(header);
    }

    [Theory]
    [InlineData("PROXY TCP4 192.168.0.1 192.16...\r\n")] // too few fields
    [InlineData("PROXY TCP4 192.168.0.1 192.168.0.11 65iii 100000\r\n")] // ports
    [InlineData("PROXY TCP4 192.168.0.1 192.168.0.11 1 65536\r\n")]
    [InlineData("PROXY TCP4 not-an-ip 192.168.0.11 56324 443\r\n")]
    [InlineData("PROXY TCP4 256.1.1.1 192.168.0.11 1 2\r\n")]
    [InlineData("PROXY TCP4 01.2.3.4.5 192.168.0.11 1 2\r\n")]
    [InlineData("PROXY TCP4 ::1 ::1 1 2\r\n")] // family mismatch
    [InlineData("PROXY TCP6 127.0.0.1 127.0.0.1 1 2\r\n")]
    [InlineData("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n")] // a zone
    [InlineData("PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n")] // bare LF
    public void V1Malformed(string line) => Assert.Equal(ProxyProtocol.Outcome.Invalid, Read(Ascii(line)).Outcome);

    [Fact]
    public void V1LongerThanTheSpecificationAllowsIsInvalid()
    {
        var line = "PROXY TCP4 1.2.3.4 1.2.3.4 1 2" + new string(' ', ProxyProtocol.V1MaxLine);
        Assert.Equal(ProxyProtocol.Outcome.Invalid, Read(Ascii(line)).Outcome);
    }

    [Theory]
    [InlineData("")]
    [InlineData("P")]
    [InlineData("PROXY")]
    [InlineData("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r")] // the line is not over
    public void V1IncompleteNeedsMore(string start) => Assert.Equal(ProxyProtocol.Outcome.NeedMore, Read(Ascii(start)).Outcome);

    [Fact]
    public void OtherBytesMeanNoHeader()
    {
        Assert.Equal(ProxyProtocol.Outcome.Absent, Read(Ascii("GET / HTTP/1.1\r\n")).Outcome);
        Assert.Equal(ProxyProtocol.Outcome.Absent, Read(Ascii("PROXI")).Outcome);
    }

    [Fact]
    public void ModeLimitsTheVersion()
    {
        Assert.Equal(ProxyProtocol.Outcome.Absent, Read(Ascii("PROXY UNKNOWN\r\n"), ProxyProtocolMode.V2).Outcome);
        Assert.Equal(ProxyProtocol.Outcome.Absent, Read(V2(0x21, 0x11, Ipv4Block()), ProxyProtocolMode.V1).Outcome);
        Assert.Equal(ProxyProtocol.Outcome.Parsed, Read(V2(0x21, 0x11, Ipv4Block()), ProxyProtocolMode.V2).Outcome);
    }

    private static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static byte[] V2(byte versionCommand, byte family, byte[] addresses) =>
        [.. Signature, versionCommand, family, (byte)(addresses.Length >> 8), (byte)addresses.Length, .. addresses];

    private static byte[] Ipv4Block() => [192, 168, 1, 10, 192, 168, 1, 1, 0x30, 0x39, 0x01, 0xBB];

    [Fact]
    public void V2Tcp4()
    {
        var data = V2(0x21, 0x11, Ipv4Block());
        var (outcome, length, header) = Read([.. data, .. "GET"u8]);
        Assert.Equal(ProxyProtocol.Outcome.Parsed, outcome);
        Assert.Equal(data.Length, length);
        Assert.Equal(new ProxyProtocolHeader("TCP4", "192.168.1.10", 12345, "192.168.1.1", 443), header);
    }

    [Fact]
    public void V2Tcp6()
    {
        byte[] block = [0x20, 0x01, 0x0d, 0xb8, .. new byte[11], 1, 0x20, 0x01, 0x0d, 0xb8, .. new byte[11], 2, 0xd4, 0x31, 0x00, 0x50];
        var (outcome, _, header) = Read(V2(0x21, 0x21, block));
        Assert.Equal(ProxyProtocol.Outcome.Parsed, outcome);
        Assert.Equal(new ProxyProtocolHeader("TCP6", "2001:db8::1", 54321, "2001:db8::2", 80), header);
    }

    [Fact]
    public void V2TlvsAfterTheAddressesAreSkipped()
    {
        var data = V2(0x21, 0x11, [.. Ipv4Block(), 0x04, 0x00, 0x01, 0xFF]);
        var (outcome, length, header) = Read(data);
        Assert.Equal(ProxyProtocol.Outcome.Parsed, outcome);
        Assert.Equal(data.Length, length);
        Assert.Equal(12345, header!.ClientPort);
    }

    [Theory]
    [InlineData(0x20, 0x11)] // LOCAL: a health check
    [InlineData(0x21, 0x00)] // UNSPEC
    [InlineData(0x21, 0x31)] // a unix socket behind the proxy
    public void V2WithoutAnAddressToGiveKeepsTheConnections(byte versionCommand, byte family)
    {
        var (outcome, _, header) = Read(V2(versionCommand, family, Ipv4Block()));
        Assert.Equal(ProxyProtocol.Outcome.Parsed, outcome);
        Assert.Null(header);
    }

    [Theory]
    [InlineData(0x11, 0x11, 12)] // version 1 in a binary header
    [InlineData(0x22, 0x11, 12)] // command 2
    [InlineData(0x21, 0x12, 12)] // UDP
    [InlineData(0x21, 0x11, 11)] // IPv4 block too short
    [InlineData(0x21, 0x21, 35)] // IPv6 block too short
    public void V2Malformed(byte versionCommand, byte family, int blockLength) =>
        Assert.Equal(ProxyProtocol.Outcome.Invalid, Read(V2(versionCommand, family, new byte[blockLength])).Outcome);

    [Fact]
    public void V2IncompleteNeedsMore()
    {
        var data = V2(0x21, 0x11, Ipv4Block());
        for (var n = 1; n < data.Length; n++)
            Assert.Equal(ProxyProtocol.Outcome.NeedMore, Read(data[..n]).Outcome);
    }
}
