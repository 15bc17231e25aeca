using Narwhal.Settings;

namespace Narwhal.Tests.Settings;

public class BindAddressTests
{
    [Theory]
    [InlineData("127.0.0.1:8080", "127.0.0.1", 8080, "http://127.0.0.1:8080")]
    [InlineData("localhost", "localhost", 8000, "http://localhost:8000")]
    [InlineData(":9000", "0.0.0.0", 9000, "http://0.0.0.0:9000")]
    [InlineData("[::1]:8080", "::1", 8080, "http://[::1]:8080")]
    [InlineData("[::]", "::", 8000, "http://[::]:8000")]
    [InlineData("example.com:0", "example.com", 0, "http://example.com:0")]
    public void Tcp(string raw, string host, int port, string shown)
    {
        var bind = BindAddress.Parse(raw);
        Assert.Equal((BindKind.Tcp, host, port), (bind.Kind, bind.Host, bind.Port));
        Assert.Equal(shown, bind.ToString());
    }

    [Theory]
    [InlineData("unix:/run/app.sock", "/run/app.sock")]
    [InlineData("unix:///run/app.sock", "/run/app.sock")]
    [InlineData("unix:relative.sock", "relative.sock")]
    public void Unix(string raw, string path)
    {
        var bind = BindAddress.Parse(raw);
        Assert.Equal((BindKind.Unix, path), (bind.Kind, bind.Path));
        Assert.Equal("unix:" + path, bind.ToString());
    }

    [Fact]
    public void Fd()
    {
        var bind = BindAddress.Parse("fd://3");
        Assert.Equal((BindKind.Fd, 3), (bind.Kind, bind.Fd));
        Assert.Equal("fd://3", bind.ToString());
    }

    [Theory]
    [InlineData("unix:")]
    [InlineData("fd://")]
    [InlineData("fd://-1")]
    [InlineData("fd://x")]
    [InlineData("::1")] // a bare IPv6 address needs brackets
    [InlineData("[::1")]
    [InlineData("[::1]8080")]
    [InlineData("[::1]:x")]
    [InlineData("[127.0.0.1]:80")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("127.0.0.1:-1")]
    [InlineData("127.0.0.1:http")]
    public void Refused(string raw) =>
        Assert.Contains("allowed: HOST, HOST:PORT, [IPv6]:PORT, unix:PATH, fd://FD",
            Assert.Throws<SettingValueException>(() => BindAddress.Parse(raw)).Message);
}
