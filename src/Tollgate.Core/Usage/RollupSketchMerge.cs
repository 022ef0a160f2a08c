namespace Tollgate.Usage;

/// <summary>
/// The second half of a roll-up write on a server database: the batch's sums are upserted first (which locks each row
/// until the commit), then the rows' stored sketches are read back and each is written again merged with the batch's.
/// No database adds two sketches in SQL, and the row locks make the read-merge-write exact with any number of writers.
/// </summary>
public sealed class RollupSketchMerge
{
    private readonly Dictionary<RollupKey, LatencySketch> _merged;

    /// <summary>Starts from the batch's sketches of one tier (copied: a failed batch is written again later).</summary>
    public RollupSketchMerge(IReadOnlyCollection<KeyValuePair<RollupKey, RollupValues>> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        _merged = new Dictionary<RollupKey, LatencySketch>(rows.Count);
        foreach (var (key, values) in rows)
        {
            var sketch = new LatencySketch();
            sketch.Merge(values.Latency);
            _merged[Normalize(key)] = sketch;
        }
    }

    /// <summary>Adds a stored row's sketch (null or empty: nothing stored yet) to the batch's for that key.</summary>
    public void AddStored(RollupKey key, ReadOnlySpan<byte> stored)
    {
        if (_merged.TryGetValue(Normalize(key), out var sketch))
        {
            sketch.Merge(stored);
        }
    }

    /// <summary>The merged sketch of a key, encoded.</summary>
    public byte[] Encoded(RollupKey key) => _merged[Normalize(key)].Encode();

    // Times read back from a database carry no kind (or Local); the key compares ticks, so only the kind is aligned.
    private static RollupKey Normalize(RollupKey key) =>
        key.BucketStart.Kind == DateTimeKind.Utc ? key : key with { BucketStart = DateTime.SpecifyKind(key.BucketStart, DateTimeKind.Utc) };
}
