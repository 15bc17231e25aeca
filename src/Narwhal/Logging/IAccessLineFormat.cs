namespace Narwhal.Logging;

/// <summary>Turns an answered request into its access log line: --access-logformat's text, or JSON.</summary>
internal interface IAccessLineFormat
{
    /// <summary>The WSGI environ keys the lines read, lowercased; the worker collects them after the app ran.</summary>
    IReadOnlyList<string> EnvironKeys { get; }

    /// <summary>One log line, without the newline.</summary>
    string Format(AccessRecord record);
}
