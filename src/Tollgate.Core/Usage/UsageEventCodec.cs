using Tollgate.Limits;

namespace Tollgate.Usage;

/// <summary>
/// The spool's binary encoding of a <see cref="UsageEvent"/>. <see cref="Transcode"/> is the one place that lists
/// every field, for writing and for reading alike, so a new field of the event is one line here (and
/// <see cref="Format"/> goes up by one, so that a spool written by an older build is recognised as such).
/// </summary>
internal static class UsageEventCodec
{
    /// <summary>The version of the encoding, stored in every spooled batch.</summary>
    /// <remarks>4 added <see cref="UsageEvent.Crossing"/>; a spool of format 3 is still read (without crossings).</remarks>
    public const byte Format = 4;

    /// <summary>The oldest version this build still reads.</summary>
    public const byte OldestReadable = 3;

    /// <summary>Appends the event's fields.</summary>
    public static void Write(BinaryWriter writer, in UsageEvent usageEvent)
    {
        var codec = new Writing(writer);
        Transcode(ref codec, usageEvent);
        WriteCrossing(writer, usageEvent.Crossing);
    }

    // Format 4: a count of thresholds (0 = no crossing, nearly always one byte), then used, limit and the thresholds.
    private static void WriteCrossing(BinaryWriter writer, Alerts.QuotaCrossing? crossing)
    {
        writer.Write((byte)(crossing?.Thresholds.Count ?? 0));
        if (crossing is null)
        {
            return;
        }

        writer.Write(crossing.Used);
        writer.Write(crossing.Limit);
        foreach (var t in crossing.Thresholds)
        {
            writer.Write((byte)t);
        }
    }

    private static Alerts.QuotaCrossing? ReadCrossing(BinaryReader reader)
    {
        var count = reader.ReadByte();
        if (count == 0)
        {
            return null;
        }

        var used = reader.ReadInt64();
        var limit = reader.ReadInt64();
        var thresholds = new int[count];
        for (var i = 0; i < count; i++)
        {
            thresholds[i] = reader.ReadByte();
        }

        return new Alerts.QuotaCrossing(used, limit, thresholds);
    }

    /// <summary>Reads one event written by <see cref="Write"/> in <paramref name="format"/>.</summary>
    public static UsageEvent Read(BinaryReader reader, byte format = Format)
    {
        var codec = new Reading(reader);
        var e = Transcode(ref codec, default);
        return format >= 4 ? e with { Crossing = ReadCrossing(reader) } : e;
    }

    // Writing passes each value to the file and returns it; reading ignores it and returns the stored value. C#
    // evaluates arguments in the order they are written, so both directions see the fields in this order.
    private static UsageEvent Transcode<TCodec>(ref TCodec c, in UsageEvent e)
        where TCodec : struct, IFieldCodec =>
        new(
            TenantId: c.Int64(e.TenantId),
            ApiKeyId: c.Int64(e.ApiKeyId),
            Timestamp: c.Time(e.Timestamp),
            Method: c.Text(e.Method),
            Endpoint: c.Text(e.Endpoint),
            StatusCode: c.Int32(e.StatusCode),
            LatencyMicros: c.Int64(e.LatencyMicros),
            Outcome: (LimitOutcome)c.Byte((byte)e.Outcome),
            QuotaPeriod: (QuotaPeriod)c.Byte((byte)e.QuotaPeriod),
            QuotaPeriodStart: c.Time(e.QuotaPeriodStart))
        {
            Unshared = c.Boolean(e.Unshared),
            Cost = c.Int32(e.Cost),
            UpstreamLatencyMicros = c.Int64(e.UpstreamLatencyMicros),
        };

    private interface IFieldCodec
    {
        long Int64(long value);

        int Int32(int value);

        byte Byte(byte value);

        bool Boolean(bool value);

        string Text(string value);

        DateTime Time(DateTime value);
    }

    private readonly struct Writing(BinaryWriter writer) : IFieldCodec
    {
        public long Int64(long value)
        {
            writer.Write(value);
            return value;
        }

        public int Int32(int value)
        {
            writer.Write(value);
            return value;
        }

        public byte Byte(byte value)
        {
            writer.Write(value);
            return value;
        }

        public bool Boolean(bool value)
        {
            writer.Write(value);
            return value;
        }

        public string Text(string value)
        {
            writer.Write(value);
            return value;
        }

        public DateTime Time(DateTime value)
        {
            writer.Write(value.Ticks); // every time of an event is UTC
            return value;
        }
    }

    private readonly struct Reading(BinaryReader reader) : IFieldCodec
    {
        public long Int64(long value) => reader.ReadInt64();

        public int Int32(int value) => reader.ReadInt32();

        public byte Byte(byte value) => reader.ReadByte();

        public bool Boolean(bool value) => reader.ReadBoolean();

        // Method names and route templates repeat in every event: interned, as the request path's strings are.
        public string Text(string value) => string.Intern(reader.ReadString());

        public DateTime Time(DateTime value) => new(reader.ReadInt64(), DateTimeKind.Utc);
    }
}
