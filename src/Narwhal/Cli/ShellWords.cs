using System.Text;

namespace Narwhal.Cli;

/// <summary>Splits GUNICORN_CMD_ARGS into words as Python's shlex.split does (POSIX quoting rules).</summary>
internal static class ShellWords
{
    public static List<string> Split(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(word.ToString()); word.Clear(); inWord = false; }
                continue;
            }
            inWord = true;
            if (c == '\\')
            {
                if (++i < text.Length) word.Append(text[i]);
            }
            else if (c == '\'')
            {
                var end = text.IndexOf('\'', i + 1);
                if (end < 0) throw new UsageException("GUNICORN_CMD_ARGS: No closing quotation");
                word.Append(text, i + 1, end - i - 1);
                i = end;
            }
            else if (c == '"')
            {
                for (i++; ; i++)
                {
                    if (i >= text.Length) throw new UsageException("GUNICORN_CMD_ARGS: No closing quotation");
                    if (text[i] == '"') break;
                    // Inside double quotes a backslash escapes only \ " $ ` and newline.
                    if (text[i] == '\\' && i + 1 < text.Length && "\\\"$`\n".Contains(text[i + 1])) i++;
                    word.Append(text[i]);
                }
            }
            else
            {
                word.Append(c);
            }
        }
        if (inWord) words.Add(word.ToString());
        return words;
    }
}
