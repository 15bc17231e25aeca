using Narwhal.Settings;

namespace Narwhal.Tests.Settings;

/// <summary>The declared settings: command-line values, config-file values, how values show.</summary>
public class SettingTests
{
    [Fact]
    public void EveryNameAndFlagIsDeclaredOnce()
    {
        var all = SettingsRegistry.All;
        Assert.Equal(all.Count, all.Select(s => s.Name).Distinct().Count());
        var flags = all.SelectMany(s => s.Cli).ToList();
        Assert.Equal(flags.Count, flags.Distinct().Count());
        Assert.Same(ServerSettings.Bind, SettingsRegistry.Find("bind"));
        Assert.Null(SettingsRegistry.Find("no_such_setting"));
    }

    [Fact]
    public void EveryDefaultShows()
    {
        foreach (var s in SettingsRegistry.All) Assert.NotNull(s.DefaultText);
    }

    [Fact]
    public void StoreReplacesAndAppendAccumulates()
    {
        var layer = new SettingsLayer();
        layer.Parse(ServerSettings.Threads, "2");
        layer.Parse(ServerSettings.Threads, "4");
        Assert.Equal(4, layer.Get(ServerSettings.Threads));
        layer.Parse(ServerSettings.Bind, "127.0.0.1:1");
        layer.Parse(ServerSettings.Bind, "unix:/tmp/x");
        Assert.Equal(["127.0.0.1:1", "unix:/tmp/x"], layer.Get(ServerSettings.Bind));
    }

    [Fact]
    public void BadValueIsRefusedByTheValidator() =>
        Assert.Throws<SettingValueException>(() => new SettingsLayer().Parse(ServerSettings.Threads, "0"));

    [Fact]
    public void LaterLayerReplacesEarlier()
    {
        var config = new Config();
        Assert.Equal(1, config.Get(ServerSettings.Threads));
        var file = new SettingsLayer();
        file.Parse(ServerSettings.Bind, "127.0.0.1:1");
        file.Parse(ServerSettings.Threads, "3");
        var cli = new SettingsLayer();
        cli.Parse(ServerSettings.Bind, "127.0.0.1:2");
        config.Apply(file);
        config.Apply(cli);
        Assert.Equal(["127.0.0.1:2"], config.Get(ServerSettings.Bind)); // replaced, not added to
        Assert.Equal(3, config.Get(ServerSettings.Threads));
    }

    [Fact]
    public void FileValues()
    {
        Assert.Equal(5, ServerSettings.Threads.FromFile(new FileValue("int", "5")));
        Assert.Equal(5, ServerSettings.Threads.FromFile(new FileValue("str", "5")));
        Assert.Equal(1, ServerSettings.Threads.FromFile(new FileValue("none", "")));
        Assert.Contains("is not an integer", Assert.Throws<SettingValueException>(
            () => ServerSettings.Threads.FromFile(new FileValue("list", "[\"5\"]"))).Message);
        Assert.Equal(new List<string> { "127.0.0.1:1", "unix:/x" },
            ServerSettings.Bind.FromFile(new FileValue("list", """["127.0.0.1:1", "unix:/x"]""")));
        // Gunicorn's legacy form: one string for a list setting.
        Assert.Equal(new List<string> { "127.0.0.1:1" }, ServerSettings.Bind.FromFile(new FileValue("str", "127.0.0.1:1")));
        Assert.Throws<SettingValueException>(() => ServerSettings.Bind.FromFile(new FileValue("list", """["nope:port"]""")));
    }

    [Fact]
    public void BoolFileValueMustBeABoolOrText()
    {
        var setting = SecuritySettings.PermitObsoleteFolding;
        Assert.Equal(true, setting.FromFile(new FileValue("bool", "true")));
        Assert.Contains("True or False", Assert.Throws<SettingValueException>(() => setting.FromFile(new FileValue("int", "1"))).Message);
    }

    [Fact]
    public void DictFileValueMustBeADict()
    {
        var setting = SecuritySettings.SecureSchemeHeaders;
        Assert.Equal("https", ((Dictionary<string, string>)setting.FromFile(new FileValue("dict", """{"X-Proto": "https"}""")))["X-Proto"]);
        Assert.Contains("is not a dictionary", Assert.Throws<SettingValueException>(() => setting.FromFile(new FileValue("str", "x"))).Message);
    }

    [Fact]
    public void ShowIsPythonsStr()
    {
        Assert.Equal("['a', 'b']", ServerSettings.Bind.Show(new List<string> { "a", "b" }));
        Assert.Equal("True", SecuritySettings.PermitObsoleteFolding.Show(true));
        Assert.Equal("False", SecuritySettings.PermitObsoleteFolding.Show(false));
        Assert.Equal("4", ServerSettings.Threads.Show(4));
        Assert.Equal("{'X-Proto': 'https'}", SecuritySettings.SecureSchemeHeaders.Show(new Dictionary<string, string> { ["X-Proto"] = "https" }));
    }

    [Fact]
    public void SettingsNarwhalCannotHonourSayWhy()
    {
        var refused = SettingsRegistry.All.Where(s => s.Name == "worker_class").Single();
        Assert.Null(refused.CannotHonour(refused.DefaultValue()));
        Assert.NotNull(refused.CannotHonour(refused.Parse("gunicorn.workers.gaiohttp.AiohttpWorker", refused.DefaultValue())));
    }
}
