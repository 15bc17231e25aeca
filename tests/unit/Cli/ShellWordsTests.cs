using Narwhal.Cli;

namespace Narwhal.Tests.Cli;

public class ShellWordsTests
{
    [Fact]
    public void SplitsOnWhitespace() => Assert.Equal(["-w", "2", "app:app"], ShellWords.Split(" -w  2\tapp:app "));
}
