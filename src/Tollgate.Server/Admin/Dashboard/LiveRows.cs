using System.Collections;

namespace Tollgate.Admin;

/// <summary>
/// The rows of a <see cref="LiveFrame"/>, one per tenant in the directory's order, held in chunks of
/// <see cref="ChunkSize"/> so that a frame that changes a few rows shares every other chunk with the frame before.
/// </summary>
/// <remarks>
/// One array of 100,000 rows is 800 KB on the large object heap. Copied at every tick to change a few rows, it set off
/// a blocking gen-2 collection about every 20 s while viewers streamed (bench/run scale's database, 100,000 tenants and
/// a trickle of pings: the server's gen-2 count went 4 → 7 over three 20 s windows with viewers, and did not move in the
/// windows without). A tick now copies the chunk index (98 references) and the 8 KB chunks that hold a changed row: no
/// gen-2 collection in the same six windows (4 → 4).
/// </remarks>
internal sealed class LiveRows : IReadOnlyList<DashboardTenantDto>
{
    /// <summary>Rows per chunk: 8 KB of references, far below the large object heap's 85,000 bytes.</summary>
    public const int ChunkSize = 1 << ChunkBits;

    private const int ChunkBits = 10;
    private readonly DashboardTenantDto[][] _chunks;

    private LiveRows(DashboardTenantDto[][] chunks, int count) => (_chunks, Count) = (chunks, count);

    /// <inheritdoc />
    public int Count { get; }

    /// <inheritdoc />
    public DashboardTenantDto this[int index] => _chunks[index >> ChunkBits][index & (ChunkSize - 1)];

    /// <summary>A table of <paramref name="rows"/>, copied into chunks.</summary>
    public static LiveRows From(ReadOnlySpan<DashboardTenantDto> rows)
    {
        var chunks = new DashboardTenantDto[(rows.Length + ChunkSize - 1) >> ChunkBits][];
        for (var c = 0; c < chunks.Length; c++)
        {
            chunks[c] = rows.Slice(c << ChunkBits, Math.Min(ChunkSize, rows.Length - (c << ChunkBits))).ToArray();
        }

        return new LiveRows(chunks, rows.Length);
    }

    /// <summary>This table with the rows at <paramref name="changes"/>' indexes replaced; the others are shared, chunk by chunk.</summary>
    public LiveRows With(IReadOnlyList<(int Index, DashboardTenantDto Row)> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (changes.Count == 0)
        {
            return this;
        }

        var chunks = (DashboardTenantDto[][])_chunks.Clone();
        var copied = new HashSet<int>();
        foreach (var (index, row) in changes)
        {
            var c = index >> ChunkBits;
            if (copied.Add(c))
            {
                chunks[c] = (DashboardTenantDto[])chunks[c].Clone();
            }

            chunks[c][index & (ChunkSize - 1)] = row;
        }

        return new LiveRows(chunks, Count);
    }

    /// <inheritdoc />
    public IEnumerator<DashboardTenantDto> GetEnumerator()
    {
        foreach (var chunk in _chunks)
        {
            foreach (var row in chunk)
            {
                yield return row;
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
