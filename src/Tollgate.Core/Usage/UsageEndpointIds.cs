using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;

namespace Tollgate.Usage;

/// <summary>
/// The ids of <c>usage_endpoints</c> rows, which the raw log stores instead of a method and a route template. Known
/// ids are kept for the life of the process (a handful per API: route templates, not paths); an unknown pair is added
/// to the table before the batch that needs it, in a statement of its own, so an id is only ever used once it is
/// committed, and instances that add the same pair at once agree on it through the table's unique key.
/// </summary>
public sealed class UsageEndpointIds
{
    private readonly ConcurrentDictionary<(string Method, string Endpoint), int> _ids = new();

    /// <summary>The id of a pair <see cref="EnsureAsync"/> has seen; throws for any other.</summary>
    public int IdOf(string method, string endpoint) => _ids[(method, endpoint)];

    /// <summary>
    /// Makes sure every event's method and endpoint has an id, adding the missing pairs to the table through
    /// <paramref name="connection"/> (open, with no transaction of the caller's running). Portable SQL with
    /// <c>@name</c> parameters, which all three drivers read.
    /// </summary>
    public async Task EnsureAsync(DbConnection connection, IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(events);
        HashSet<(string, string)>? missing = null;
        foreach (var e in events)
        {
            if (!_ids.ContainsKey((e.Method, e.Endpoint)))
            {
                (missing ??= []).Add((e.Method, e.Endpoint));
            }
        }

        if (missing is null)
        {
            return;
        }

        foreach (var (method, endpoint) in missing)
        {
            _ids[(method, endpoint)] = await FindOrAddAsync(connection, method, endpoint, cancellationToken);
        }
    }

    private static async Task<int> FindOrAddAsync(DbConnection connection, string method, string endpoint, CancellationToken ct)
    {
        if (await FindAsync(connection, method, endpoint, ct) is { } found)
        {
            return found;
        }

        DbException? raced = null;
        try
        {
            await using var insert = Command(connection, $"INSERT INTO {UsageTables.Endpoints} (method, endpoint) VALUES (@m, @e)", method, endpoint);
            await insert.ExecuteNonQueryAsync(ct);
        }
        catch (DbException ex)
        {
            // Another instance added the pair first (the unique key refused this one); the read below finds its id.
            raced = ex;
        }

        return await FindAsync(connection, method, endpoint, ct)
            ?? throw new InvalidOperationException($"Could not add {method} {endpoint} to {UsageTables.Endpoints}.", raced);
    }

    private static async Task<int?> FindAsync(DbConnection connection, string method, string endpoint, CancellationToken ct)
    {
        await using var select = Command(connection, $"SELECT id FROM {UsageTables.Endpoints} WHERE method = @m AND endpoint = @e", method, endpoint);
        return await select.ExecuteScalarAsync(ct) is { } id and not DBNull ? Convert.ToInt32(id, CultureInfo.InvariantCulture) : null;
    }

    private static DbCommand Command(DbConnection connection, string sql, string method, string endpoint)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in new[] { ("@m", method), ("@e", endpoint) })
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return command;
    }
}
