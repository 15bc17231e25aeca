using Narwhal.Posix;

namespace Narwhal.Settings;

/// <summary>
/// The uid and gid workers run as, from --user and --group (names or numbers). It reads
/// settings, so it lives here and resolves names through Posix/, which knows no settings.
/// </summary>
internal static class Owner
{
    public static int Uid(Config config)
    {
        var user = config.Get(ProcessSettings.User);
        return int.TryParse(user, out var uid) ? uid : Unix.UserId(user) ?? throw new IOException($"No such user: '{user}'");
    }

    public static int Gid(Config config)
    {
        var group = config.Get(ProcessSettings.Group);
        return int.TryParse(group, out var gid) ? gid : Unix.GroupId(group) ?? throw new IOException($"No such group: '{group}'");
    }
}
