using Narwhal.Cli;
using Narwhal.Settings;

namespace Narwhal.Tests.Cli;

/// <summary>GUNICORN_CMD_ARGS and NARWHAL_CMD_ARGS, parsed as argv into one layer (the tier runs serially).</summary>
public sealed class EnvironmentArgsTests : IDisposable
{
    public EnvironmentArgsTests()
    {
        foreach (var v in EnvironmentArgs.Variables) Environment.SetEnvironmentVariable(v, null);
    }

    public void Dispose()
    {
        foreach (var v in EnvironmentArgs.Variables) Environment.SetEnvironmentVariable(v, null);
    }

    [Fact]
    public void NoneSetGivesAnEmptyLayer() => Assert.Empty(EnvironmentArgs.Read().Values);

    [Fact]
    public void QuotedWordsAreSplitAsAShellWould()
    {
        Environment.SetEnvironmentVariable("GUNICORN_CMD_ARGS", "--threads 3 --bind '127.0.0.1:1'");
        var layer = EnvironmentArgs.Read();
        Assert.Equal(3, layer.Get(ServerSettings.Threads));
        Assert.Equal(["127.0.0.1:1"], layer.Get(ServerSettings.Bind));
    }

    [Fact]
    public void NarwhalVariableIsReadAfterGunicornsAndWins()
    {
        Environment.SetEnvironmentVariable("GUNICORN_CMD_ARGS", "--threads 3 --workers 5");
        Environment.SetEnvironmentVariable("NARWHAL_CMD_ARGS", "--threads 7");
        var layer = EnvironmentArgs.Read();
        Assert.Equal(7, layer.Get(ServerSettings.Threads));
        Assert.Equal(5, layer.Get(ProcessSettings.Workers));
    }

    [Fact]
    public void ABadOptionNamesTheVariable()
    {
        Environment.SetEnvironmentVariable("NARWHAL_CMD_ARGS", "--no-such-option");
        var message = Assert.Throws<UsageException>(EnvironmentArgs.Read).Message;
        Assert.StartsWith("NARWHAL_CMD_ARGS: unrecognized arguments: --no-such-option", message);
    }
}
