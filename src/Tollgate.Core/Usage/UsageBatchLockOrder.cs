namespace Tollgate.Usage;

/// <summary>
/// The one order in which every writer touches the rows a batch upserts. When several Tollgate instances write the
/// same buckets at once, rows locked in the same order cannot deadlock each other; without it, two batches that
/// share two roll-up rows, taken in opposite orders, deadlock and one of them has to be written again.
/// </summary>
internal static class UsageBatchLockOrder
{
    /// <summary>The batch's roll-ups of a tier, sorted by their key.</summary>
    public static KeyValuePair<RollupKey, RollupValues>[] Rollups(UsageBatch batch, RollupTier tier = RollupTier.Minute)
    {
        var rows = batch.RollupsOf(tier).ToArray();
        Array.Sort(rows, static (a, b) => Compare(a.Key, b.Key));
        return rows;
    }

    /// <summary>The batch's quota increments, sorted by their key.</summary>
    public static KeyValuePair<QuotaKey, QuotaIncrement>[] QuotaIncrements(UsageBatch batch)
    {
        var rows = batch.QuotaIncrements.ToArray();
        Array.Sort(rows, static (a, b) =>
        {
            var c = a.Key.TenantId.CompareTo(b.Key.TenantId);
            if (c == 0)
            {
                c = a.Key.Period.CompareTo(b.Key.Period);
            }

            return c != 0 ? c : a.Key.PeriodStart.CompareTo(b.Key.PeriodStart);
        });
        return rows;
    }

    /// <summary>The keys' last use, sorted by key id.</summary>
    public static KeyValuePair<long, DateTime>[] KeysLastUsed(UsageBatch batch)
    {
        var rows = batch.KeysLastUsed.ToArray();
        Array.Sort(rows, static (a, b) => a.Key.CompareTo(b.Key));
        return rows;
    }

    private static int Compare(in RollupKey a, in RollupKey b)
    {
        var c = a.TenantId.CompareTo(b.TenantId);
        if (c == 0)
        {
            c = a.BucketStart.CompareTo(b.BucketStart);
        }

        if (c == 0)
        {
            c = string.CompareOrdinal(a.Method, b.Method);
        }

        if (c == 0)
        {
            c = string.CompareOrdinal(a.Endpoint, b.Endpoint);
        }

        if (c == 0)
        {
            c = a.StatusCode.CompareTo(b.StatusCode);
        }

        return c != 0 ? c : a.Outcome.CompareTo(b.Outcome);
    }
}
