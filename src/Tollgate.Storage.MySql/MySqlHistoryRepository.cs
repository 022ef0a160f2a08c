using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;

namespace Tollgate.Data;

/// <summary>
/// The migrations history table on MySQL and MariaDB, in place of MySql.EntityFrameworkCore's own. Its migration lock
/// is <c>GET_LOCK(name, -1)</c>: "wait forever" on MySQL, but on MariaDB a negative timeout is an error that answers
/// NULL, so <c>Migrate</c> failed on every MariaDB with an InvalidCastException. This one waits an hour, which both
/// servers accept. Everything else is EF Core's own behaviour for the history table.
/// </summary>
internal sealed class MySqlHistoryRepository(HistoryRepositoryDependencies dependencies) : HistoryRepository(dependencies)
{
    private const string LockName = "__EFMigrationsLock";

    /// <summary>How long an instance waits for another one that is migrating the same database.</summary>
    private const int LockTimeoutSeconds = 3600;

    /// <summary><c>GET_LOCK</c> belongs to the session: it ends when the connection closes.</summary>
    public override LockReleaseBehavior LockReleaseBehavior => LockReleaseBehavior.Connection;

    protected override string ExistsSql =>
        "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = " +
        Dependencies.TypeMappingSource.GetMapping(typeof(string)).GenerateSqlLiteral(TableName);

    protected override bool InterpretExistsResult(object? value) => value is not null and not DBNull;

    public override string GetCreateIfNotExistsScript()
    {
        var script = GetCreateScript();
        const string create = "CREATE TABLE";
        return script.Insert(script.IndexOf(create, StringComparison.Ordinal) + create.Length, " IF NOT EXISTS");
    }

    // Idempotent scripts need IF blocks, which MySQL allows only inside stored programs. Tollgate migrates on start;
    // an operator who wants SQL uses `dotnet ef migrations script FROM TO` instead.
    public override string GetBeginIfNotExistsScript(string migrationId) => throw IdempotentScriptsNotSupported();

    public override string GetBeginIfExistsScript(string migrationId) => throw IdempotentScriptsNotSupported();

    public override string GetEndIfScript() => throw IdempotentScriptsNotSupported();

    public override IMigrationsDatabaseLock AcquireDatabaseLock()
    {
        Interpret(Dependencies.RawSqlCommandBuilder.Build(GetLockSql).ExecuteScalar(Parameters()));
        return new DatabaseLock(this);
    }

    public override async Task<IMigrationsDatabaseLock> AcquireDatabaseLockAsync(CancellationToken cancellationToken = default)
    {
        Interpret(await Dependencies.RawSqlCommandBuilder.Build(GetLockSql).ExecuteScalarAsync(Parameters(), cancellationToken));
        return new DatabaseLock(this);
    }

    private static string GetLockSql => $"SELECT GET_LOCK('{LockName}', {LockTimeoutSeconds})";

    private static string ReleaseLockSql => $"SELECT RELEASE_LOCK('{LockName}')";

    private static NotSupportedException IdempotentScriptsNotSupported() => new(
        "Idempotent migration scripts are not supported on MySQL; generate a script between two migrations instead.");

    private static void Interpret(object? result)
    {
        if (!Equals(Convert.ToInt64(result ?? 0L, System.Globalization.CultureInfo.InvariantCulture), 1L))
        {
            throw new TimeoutException(
                $"Another process held the migrations lock '{LockName}' for {LockTimeoutSeconds} s (GET_LOCK answered {result ?? "NULL"}).");
        }
    }

    private RelationalCommandParameterObject Parameters() => new(
        Dependencies.Connection, null, null, Dependencies.CurrentContext.Context, Dependencies.CommandLogger, CommandSource.Migrations);

    private sealed class DatabaseLock(MySqlHistoryRepository repository) : IMigrationsDatabaseLock
    {
        public IHistoryRepository HistoryRepository => repository;

        public void Dispose() =>
            repository.Dependencies.RawSqlCommandBuilder.Build(ReleaseLockSql).ExecuteScalar(repository.Parameters());

        public async ValueTask DisposeAsync() =>
            await repository.Dependencies.RawSqlCommandBuilder.Build(ReleaseLockSql).ExecuteScalarAsync(repository.Parameters());

        public IMigrationsDatabaseLock ReacquireIfNeeded(bool connectionReopened, bool? transactionRestarted) =>
            connectionReopened ? repository.AcquireDatabaseLock() : this;

        public async Task<IMigrationsDatabaseLock> ReacquireIfNeededAsync(
            bool connectionReopened, bool? transactionRestarted, CancellationToken cancellationToken = default) =>
            connectionReopened ? await repository.AcquireDatabaseLockAsync(cancellationToken) : this;
    }
}
