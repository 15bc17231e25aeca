using Narwhal.Http;

namespace Narwhal.Wsgi;

/// <summary>
/// Maps the integer ids Python holds (in wsgi.input, start_response) to live exchanges.
/// One slot per Python thread, since a thread serves one request at a time; the id also
/// carries a sequence number so a stale wsgi.input kept past its request finds nothing.
/// </summary>
internal static class ExchangeTable
{
    private const int SlotBits = 12;
    private static Exchange?[] _slots = [];
    private static long[] _sequence = [];

    public static int MaxThreads => 1 << SlotBits;

    public static void Init(int threads)
    {
        _slots = new Exchange?[threads];
        _sequence = new long[threads];
    }

    public static long Register(int slot, Exchange exchange)
    {
        var id = (++_sequence[slot] << SlotBits) | (long)slot;
        exchange.Id = id;
        Volatile.Write(ref _slots[slot], exchange);
        return id;
    }

    public static void Unregister(int slot)
    {
        var exchange = _slots[slot];
        if (exchange != null) exchange.Id = 0;
        Volatile.Write(ref _slots[slot], null);
    }

    public static Exchange? Find(long id)
    {
        var slot = (int)(id & ((1 << SlotBits) - 1));
        if ((uint)slot >= (uint)_slots.Length) return null;
        var exchange = Volatile.Read(ref _slots[slot]);
        return exchange != null && exchange.Id == id ? exchange : null;
    }
}
