using System.Globalization;
using System.Text;

namespace Narwhal.Logging;

/// <summary>
/// Gunicorn's --access-logformat, compiled once: Python %-formatting against a mapping of
/// atoms (<c>%(h)s</c>, <c>%({user-agent}i)s</c>, <c>%(D)d</c>, <c>%%</c>). Only the atoms the
/// format names are ever computed.
/// </summary>
internal sealed class AccessFormat : IAccessLineFormat
{
    private readonly Segment[] _segments;

    /// <summary>The WSGI environ keys the format reads through <c>{key}e</c> atoms, lowercased.</summary>
    public IReadOnlyList<string> EnvironKeys { get; }

    private readonly record struct Segment(string? Literal, string Atom, char Conversion, int Width, bool LeftAlign);

    public AccessFormat(string format)
    {
        var segments = new List<Segment>();
        var literal = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if (c != '%' || i + 1 >= format.Length) { literal.Append(c); continue; }
            if (format[i + 1] == '%') { literal.Append('%'); i++; continue; }
            if (format[i + 1] != '(') { literal.Append(c); continue; }
            var close = format.IndexOf(')', i + 2);
            if (close < 0) { literal.Append(format, i, format.Length - i); break; }
            var atom = format[(i + 2)..close];
            var j = close + 1;
            var left = j < format.Length && format[j] == '-';
            if (left) j++;
            var widthStart = j;
            while (j < format.Length && char.IsAsciiDigit(format[j])) j++;
            var width = j > widthStart ? int.Parse(format[widthStart..j], CultureInfo.InvariantCulture) : 0;
            if (j >= format.Length || "sdirf".IndexOf(format[j]) < 0)
            {
                literal.Append(format, i, j - i);
                i = j - 1;
                continue;
            }
            if (literal.Length > 0) { segments.Add(new Segment(literal.ToString(), "", 's', 0, false)); literal.Clear(); }
            segments.Add(new Segment(null, atom, format[j], width, left));
            i = j;
        }
        if (literal.Length > 0) segments.Add(new Segment(literal.ToString(), "", 's', 0, false));
        _segments = [.. segments];
        EnvironKeys = _segments.Where(s => s.Literal == null && s.Atom.StartsWith('{') && s.Atom.EndsWith("}e"))
            .Select(s => s.Atom[1..^2].ToLowerInvariant()).Distinct().ToList();
    }

    /// <summary>One log line (without the newline) for <paramref name="r"/>.</summary>
    public string Format(AccessRecord r)
    {
        var sb = new StringBuilder(160);
        foreach (var s in _segments)
        {
            if (s.Literal != null) { sb.Append(s.Literal); continue; }
            var value = r.Atom(s.Atom);
            var text = s.Conversion switch
            {
                'd' or 'i' => value is long or int ? Convert.ToString(value, CultureInfo.InvariantCulture)! : Text(value),
                'r' => value is string str ? $"'{str}'" : Text(value),
                _ => Text(value),
            };
            if (s.Width > text.Length) text = s.LeftAlign ? text.PadRight(s.Width) : text.PadLeft(s.Width);
            sb.Append(text);
        }
        return sb.ToString();
    }

    private static string Text(object? value) => value switch
    {
        null => "None",
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
