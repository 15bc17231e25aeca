using Narwhal.Cli;
using Narwhal.Settings;

namespace Narwhal.Tests.Cli;

/// <summary>argv as Gunicorn's argparse reads it (exact flags; abbreviations are not covered here).</summary>
public class CommandLineTests
{
    private static CommandLineResult Parse(params string[] args) => CommandLine.Parse(args);

    private static string Refused(params string[] args) => Assert.Throws<UsageException>(() => Parse(args)).Message;

    [Fact]
    public void AppAndOptionsInAnyOrder()
    {
        var r = Parse("--threads", "3", "app:app", "-b", "127.0.0.1:1");
        Assert.Equal("app:app", r.App);
        Assert.Equal(3, r.Layer.Get(ServerSettings.Threads));
        Assert.Equal(["127.0.0.1:1"], r.Layer.Get(ServerSettings.Bind));
    }

    [Fact]
    public void FlagEqualsValue() => Assert.Equal(4, Parse("--threads=4").Layer.Get(ServerSettings.Threads));

    [Fact]
    public void ShortFlagWithValueAttached() =>
        Assert.Equal(["127.0.0.1:9", "unix:/x"], Parse("-b127.0.0.1:9", "--bind", "unix:/x").Layer.Get(ServerSettings.Bind));

    [Fact]
    public void DoubleDashEndsOptions()
    {
        var r = Parse("--threads", "2", "--", "--app-named-like-a-flag");
        Assert.Equal("--app-named-like-a-flag", r.App);
        Assert.Equal(2, r.Layer.Get(ServerSettings.Threads));
    }

    [Fact]
    public void HelpAndVersion()
    {
        Assert.True(Parse("-h").ShowHelp);
        Assert.True(Parse("--help").ShowHelp);
        Assert.True(Parse("-v").ShowVersion);
        Assert.True(Parse("--version").ShowVersion);
        var none = Parse();
        Assert.False(none.ShowHelp || none.ShowVersion);
        Assert.Null(none.App);
    }

    [Fact]
    public void SwitchTakesNoValue()
    {
        Assert.True(Parse("--strip-header-spaces").Layer.Get(SecuritySettings.StripHeaderSpaces));
        Assert.Contains("ignored explicit argument 'yes'", Refused("--strip-header-spaces=yes"));
        Assert.False(Parse("--no-sendfile").Layer.Get(CompatSettings.Sendfile));
    }

    [Fact]
    public void OptionalValueTakesAChoiceOrItsConstant()
    {
        Assert.Equal("v2", Parse("--proxy-protocol", "v2", "app").Layer.Get(SecuritySettings.ProxyProtocol));
        var bare = Parse("--proxy-protocol", "app");
        Assert.Equal(SecuritySettings.ProxyProtocol.Const, bare.Layer.Get(SecuritySettings.ProxyProtocol));
        Assert.Equal("app", bare.App);
        Assert.Equal("v1", Parse("--proxy-protocol=v1").Layer.Get(SecuritySettings.ProxyProtocol));
    }

    [Fact]
    public void MissingValueIsRefused() => Assert.Contains("--threads: expected one argument", Refused("--threads"));

    [Fact]
    public void BadValueNamesTheFlag() => Assert.Contains("argument --threads: '0' is not a positive integer", Refused("--threads", "0"));

    [Fact]
    public void UnknownFlagSuggestsTheNearest()
    {
        Assert.Contains("unrecognized arguments: --thraeds (did you mean --threads?)", Refused("--thraeds", "2"));
        Assert.DoesNotContain("did you mean", Refused("--zzzzzzzzzzzzzzzzz"));
        Assert.Contains("unrecognized arguments: -Z", Refused("-Z"));
    }

    [Fact]
    public void SecondAppIsRefused() => Assert.Contains("unrecognized arguments: b:app", Refused("a:app", "b:app"));

    [Fact]
    public void SingleDashIsPositional() => Assert.Equal("-", Parse("-").App);
}
