using System.Text;
using System.Text.Json;
using Narwhal.Logging;

namespace Narwhal.Tests.Logging;

/// <summary>JSON string literals of the JSON access log: ASCII only, and read back as the same text.</summary>
public class JsonTextTests
{
    private static string Literal(string? s)
    {
        var sb = new StringBuilder();
        JsonText.AppendString(sb, s);
        return sb.ToString();
    }

    [Fact]
    public void EveryLatin1CharRoundTripsAndTheLiteralIsPrintableAscii()
    {
        // A request header's bytes arrive as Latin-1 chars: all 256 of them, twice over.
        var every = new string(Enumerable.Range(0, 256).Select(i => (char)i).ToArray());
        var literal = Literal(every + every);
        Assert.All(literal, c => Assert.InRange(c, ' ', '~'));
        Assert.Equal(every + every, JsonSerializer.Deserialize<string>(literal));
    }

    [Theory]
    [InlineData("say \"hi\"", "\"say \\\"hi\\\"\"")]
    [InlineData("C:\\x\\", "\"C:\\\\x\\\\\"")]
    [InlineData("a\r\nb\t", "\"a\\r\\nb\\t\"")]
    [InlineData("\u0001\u001f\u007f\u00ff", "\"\\u0001\\u001f\\u007f\\u00ff\"")]
    [InlineData("\u2028</script>", "\"\\u2028</script>\"")]
    [InlineData("\U0001F600", "\"\\ud83d\\ude00\"")]
    [InlineData("", "\"\"")]
    public void EscapesAsDocumented(string value, string expected) => Assert.Equal(expected, Literal(value));

    [Fact]
    public void NullIsJsonNull() => Assert.Equal("null", Literal(null));

    [Fact]
    public void LoneSurrogatesBecomeTheReplacementCharacter()
    {
        var literal = Literal("a\ud800b\udc00\ud83d");
        Assert.Equal("\"a\\ufffdb\\ufffd\\ufffd\"", literal);
        Assert.Equal("a\ufffdb\ufffd\ufffd", JsonSerializer.Deserialize<string>(literal));
    }
}
