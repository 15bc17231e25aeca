using System.Globalization;
using System.Text;

namespace Narwhal.Logging;

/// <summary>
/// JSON string literals for log lines, ASCII only: printable ASCII as itself but for '"' and
/// '\', everything else escaped (\n, \t... and \u00XX for other control characters and DEL,
/// \uXXXX above ASCII, surrogate pairs as two escapes). A lone surrogate, which is not text,
/// becomes \ufffd. Request bytes arrive decoded as Latin-1 (one char per byte, as in the WSGI
/// environ), so a byte 0xff is \u00ff and every byte the client sent can be read back exactly.
/// </summary>
internal static class JsonText
{
    public static void AppendString(StringBuilder sb, string? s)
    {
        if (s == null)
        {
            sb.Append("null");
            return;
        }
        sb.Append('"');
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            switch (c)
            {
                case '"': sb.Append("\\\""); continue;
                case '\\': sb.Append("\\\\"); continue;
                case '\n': sb.Append("\\n"); continue;
                case '\r': sb.Append("\\r"); continue;
                case '\t': sb.Append("\\t"); continue;
                case '\b': sb.Append("\\b"); continue;
                case '\f': sb.Append("\\f"); continue;
            }
            if (c >= 0x20 && c < 0x7f)
            {
                sb.Append(c);
            }
            else if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                Escape(sb, c);
                Escape(sb, s[++i]);
            }
            else
            {
                Escape(sb, char.IsSurrogate(c) ? '\ufffd' : c);
            }
        }
        sb.Append('"');
    }

    private static void Escape(StringBuilder sb, char c) =>
        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
}
