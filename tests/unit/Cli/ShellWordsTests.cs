using Narwhal.Cli;

namespace Narwhal.Tests.Cli;

/// <summary>GUNICORN_CMD_ARGS split as Python's shlex.split splits it.</summary>
public class ShellWordsTests
{
    [Theory]
    [InlineData(" -w  2\tapp:app ", new[] { "-w", "2", "app:app" })]
    [InlineData("", new string[0])]
    [InlineData("'a b' c", new[] { "a b", "c" })]
    [InlineData("\"a b\" c", new[] { "a b", "c" })]
    [InlineData("x'a b'y", new[] { "xa by" })] // quotes join with what touches them
    [InlineData("''", new[] { "" })]
    [InlineData("a\\ b", new[] { "a b" })]
    [InlineData("'a\\b'", new[] { "a\\b" })] // no escapes inside single quotes
    [InlineData("\"a\\\"b\"", new[] { "a\"b" })]
    [InlineData("\"a\\$b\\\\c\"", new[] { "a$b\\c" })]
    [InlineData("\"a\\nb\"", new[] { "a\\nb" })] // a backslash before other characters stays
    [InlineData("--access-logformat='%(h)s \"%(r)s\"'", new[] { "--access-logformat=%(h)s \"%(r)s\"" })]
    public void Split(string text, string[] words) => Assert.Equal(words, ShellWords.Split(text));

    [Theory]
    [InlineData("'open")]
    [InlineData("\"open")]
    [InlineData("a \"b\\\"")]
    public void UnclosedQuoteIsRefused(string text) =>
        Assert.Contains("No closing quotation", Assert.Throws<UsageException>(() => ShellWords.Split(text)).Message);
}
