using System.Data.Common;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Tollgate.Data;

/// <summary>
/// Rewrites the single-table <c>DELETE FROM `t` AS `a` WHERE …</c> that MySql.EntityFrameworkCore generates for
/// <c>ExecuteDelete</c> into the multi-table form <c>DELETE `a` FROM `t` AS `a` WHERE …</c>. A table alias in the
/// single-table form is MySQL 8.0.16+ syntax that MariaDB rejects, so every <c>ExecuteDelete</c> (deleting a user,
/// resetting the demo) failed there; the multi-table form means the same on both servers.
/// </summary>
internal sealed partial class MariaDbDeleteInterceptor : DbCommandInterceptor
{
    /// <summary>One instance serves every context: it keeps no state.</summary>
    public static readonly MariaDbDeleteInterceptor Instance = new();

    private MariaDbDeleteInterceptor()
    {
    }

    public override InterceptionResult<int> NonQueryExecuting(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Rewrite(command);
        return result;
    }

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Rewrite(command);
        return ValueTask.FromResult(result);
    }

    /// <summary>The rewritten statement, or the statement itself when it is not an aliased single-table DELETE.</summary>
    internal static string Rewrite(string sql) => AliasedDelete().Replace(sql, "DELETE $2 FROM $1 AS $2", 1);

    private static void Rewrite(DbCommand command)
    {
        if (command.CommandText.StartsWith("DELETE FROM ", StringComparison.Ordinal))
        {
            command.CommandText = Rewrite(command.CommandText);
        }
    }

    [GeneratedRegex(@"^DELETE FROM (`[^`]+`) AS (`[^`]+`)", RegexOptions.CultureInvariant)]
    private static partial Regex AliasedDelete();
}
