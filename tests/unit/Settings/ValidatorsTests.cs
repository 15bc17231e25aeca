using Narwhal.Settings;

namespace Narwhal.Tests.Settings;

/// <summary>Text from the command line into setting values; each refusal says what is allowed.</summary>
public class ValidatorsTests
{
    private static void Refused(Func<object> parse, string allowed) =>
        Assert.Contains(allowed, Assert.Throws<SettingValueException>(parse).Message);

    [Theory]
    [InlineData("1", 1)]
    [InlineData(" 8 ", 8)]
    public void PositiveInt(string raw, int value) => Assert.Equal(value, Validators.PositiveInt(raw));

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("two")]
    [InlineData("")]
    public void PositiveIntRefuses(string raw) => Refused(() => Validators.PositiveInt(raw), "an integer >= 1");

    [Fact]
    public void NonNegativeInt()
    {
        Assert.Equal(0, Validators.NonNegativeInt("0"));
        Refused(() => Validators.NonNegativeInt("-1"), "an integer >= 0");
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("YES", true)]
    [InlineData(" on ", true)]
    [InlineData("1", true)]
    [InlineData("y", true)]
    [InlineData("false", false)]
    [InlineData("Off", false)]
    [InlineData("0", false)]
    [InlineData("n", false)]
    public void Bool(string raw, bool value) => Assert.Equal(value, Validators.Bool(raw));

    [Fact]
    public void BoolRefuses() => Refused(() => Validators.Bool("maybe"), "true or false");

    [Theory]
    [InlineData("18", 18)]
    [InlineData("022", 18)] // a leading 0 is octal, as in Gunicorn's umask
    [InlineData("0o22", 18)]
    [InlineData("0x12", 18)]
    [InlineData("0X12", 18)]
    [InlineData("0b10010", 18)]
    [InlineData("0", 0)]
    public void AutoInt(string raw, int value) => Assert.Equal(value, Validators.AutoInt(raw));

    [Theory]
    [InlineData("09")]
    [InlineData("0x")]
    [InlineData("0xZZ")]
    [InlineData("abc")]
    [InlineData("99999999999")]
    public void AutoIntRefuses(string raw) => Refused(() => Validators.AutoInt(raw), "0o octal, 0x hex");

    [Fact]
    public void CommaListDropsEmptyItemsAndSpaces() =>
        Assert.Equal(["a", "b c", "d"], Validators.CommaList(" a, b c ,,d,"));

    [Fact]
    public void KeyValue()
    {
        Assert.Equal(["A=1=2"], Validators.KeyValue("A=1=2"));
        Refused(() => Validators.KeyValue("A"), "KEY=VALUE");
        Refused(() => Validators.KeyValue("=1"), "KEY=VALUE");
    }

    [Fact]
    public void Address()
    {
        Assert.Equal(["unix:/tmp/s"], Validators.Address("unix:/tmp/s"));
        Refused(() => Validators.Address("1.2.3.4:http"), "HOST:PORT");
    }

    [Fact]
    public void OneOf()
    {
        Assert.Equal("gthread", Validators.OneOf("gthread", "sync", "gthread"));
        Refused(() => Validators.OneOf("GTHREAD", "sync", "gthread"), "allowed: sync, gthread");
        Assert.Equal("gthread", Validators.OneOfIgnoreCase(" GThread ", "sync", "gthread"));
        Refused(() => Validators.OneOfIgnoreCase("eventlet", "sync", "gthread"), "allowed: sync, gthread");
    }

    [Fact]
    public void StringDict()
    {
        var dict = Validators.StringDict("""{"X-Forwarded-Proto": "https", "n": 1}""");
        Assert.Equal("https", dict["X-Forwarded-Proto"]);
        Assert.Equal("1", dict["n"]);
        Refused(() => Validators.StringDict("[1, 2]"), "not a dictionary of strings");
        Refused(() => Validators.StringDict("{"), "not a dictionary of strings");
    }

    [Theory]
    [InlineData("localhost:8125")]
    [InlineData("unix:/run/statsd.sock")]
    [InlineData("[::1]")]
    [InlineData("statsd")]
    public void StatsdAddress(string raw) => Assert.Equal(raw, Validators.StatsdAddress(raw));

    [Fact]
    public void StatsdAddressRefusesANonNumericPort() => Refused(() => Validators.StatsdAddress("host:port"), "HOST:PORT or unix:PATH");

    [Fact]
    public void Directory()
    {
        Assert.Equal(Path.GetFullPath(AppContext.BaseDirectory), Validators.Directory(AppContext.BaseDirectory));
        Refused(() => Validators.Directory(Path.Combine(AppContext.BaseDirectory, "no-such-dir")), "not an existing directory");
    }

    [Fact]
    public void UserAndGroup()
    {
        Assert.Equal("root", Validators.User("root"));
        Assert.Equal("1234", Validators.User("1234"));
        Refused(() => Validators.User("no-such-user-narwhal"), "No such user");
        Assert.Equal("0", Validators.Group("0"));
        Refused(() => Validators.Group("no-such-group-narwhal"), "No such group");
    }
}
