using Narwhal.Settings;
using Narwhal.Tests.Support;
using Narwhal.Http;

namespace Narwhal.Tests.Http;

public class RequestLimitsTests
{
    private static RequestLimits From(int line, int fields, int size)
    {
        var config = new Config();
        config.Set(SecuritySettings.LimitRequestLine, line);
        config.Set(SecuritySettings.LimitRequestFields, fields);
        config.Set(SecuritySettings.LimitRequestFieldSize, size);
        return RequestRules.From(config).Limits;
    }

    [Fact]
    public void DefaultsAreGunicorns() => Assert.Equal(new RequestLimits(4094, 100, 8190), RequestRules.From(new Config()).Limits);

    [Fact]
    public void ValuesWithinRangeAreKept() => Assert.Equal(new RequestLimits(100, 5, 200), From(100, 5, 200));

    [Theory]
    [InlineData(0, 0)] // unlimited
    [InlineData(-1, 0)]
    [InlineData(9000, RequestLimits.MaxRequestLine)]
    public void RequestLineIsNormalized(int given, int expected) => Assert.Equal(expected, From(given, 100, 8190).RequestLine);

    [Theory]
    [InlineData(0, RequestLimits.MaxFields)]
    [InlineData(40000, RequestLimits.MaxFields)]
    public void FieldCountIsNormalized(int given, int expected) => Assert.Equal(expected, From(4094, given, 8190).Fields);

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void FieldSizeZeroOrLessIsTheDefault(int given) => Assert.Equal(RequestLimits.DefaultFieldSize, From(4094, 100, given).FieldSize);

    [Fact]
    public void HeadersTotalIsEveryFieldAtItsLargest()
    {
        Assert.Equal(2 * (10 + 2) + 4, new RequestLimits(0, 2, 10).HeadersTotal);
        Assert.Equal(int.MaxValue, new RequestLimits(0, RequestLimits.MaxFields, int.MaxValue / 2).HeadersTotal);
    }

    [Fact]
    public void ConfigForCorpusCaseReadsTheSettings() =>
        Assert.Equal(new RequestLimits(4094, 100, 98),
            RequestRules.From(EdgeConnection.ConfigFor(System.Text.Json.JsonDocument.Parse("""{"limit_request_field_size": 98}""").RootElement)).Limits);
}
