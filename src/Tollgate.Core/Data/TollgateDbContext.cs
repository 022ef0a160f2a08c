using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Tollgate.Usage;

namespace Tollgate.Data;

/// <summary>
/// Tollgate's schema. Each storage package (<c>Tollgate.Storage.Sqlite</c>, <c>.Postgres</c>, <c>.MySql</c>) derives its
/// own context type, with its migrations beside it.
/// </summary>
public abstract class TollgateDbContext : DbContext
{
    /// <summary>Creates the context with provider-specific options.</summary>
    protected TollgateDbContext(DbContextOptions options)
        : base(options)
    {
    }

    /// <summary>Plans.</summary>
    public DbSet<Plan> Plans => Set<Plan>();

    /// <summary>Tenants.</summary>
    public DbSet<Tenant> Tenants => Set<Tenant>();

    /// <summary>API keys.</summary>
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    /// <summary>Tenants' end users.</summary>
    public DbSet<User> Users => Set<User>();

    /// <summary>Raw request log (table <c>usage_log_entries</c>; the view <c>usage_logs</c> reads it as text).</summary>
    public DbSet<UsageLog> UsageLogs => Set<UsageLog>();

    /// <summary>The methods and route templates the raw log refers to by id.</summary>
    public DbSet<UsageEndpoint> UsageEndpoints => Set<UsageEndpoint>();

    /// <summary>Per-minute roll-ups of the request log.</summary>
    public DbSet<UsageRollup> UsageRollups => Set<UsageRollup>();

    /// <summary>Per-hour usage roll-ups.</summary>
    public DbSet<UsageRollupHour> UsageRollupsHour => Set<UsageRollupHour>();

    /// <summary>Per-day usage roll-ups, kept forever.</summary>
    public DbSet<UsageRollupDay> UsageRollupsDay => Set<UsageRollupDay>();

    /// <summary>Admitted requests per tenant and quota period.</summary>
    public DbSet<QuotaCounter> QuotaCounters => Set<QuotaCounter>();

    /// <summary>Each usage writer's last stored batch, for exactly-once replay of the spool.</summary>
    public DbSet<UsageWriterMark> UsageWriterMarks => Set<UsageWriterMark>();

    /// <summary>Gateway routes added through the admin API.</summary>
    public DbSet<GatewayRoute> GatewayRoutes => Set<GatewayRoute>();

    /// <summary>Admin accounts.</summary>
    public DbSet<Admin> Admins => Set<Admin>();

    /// <summary>Server-side admin sessions.</summary>
    public DbSet<AdminSession> AdminSessions => Set<AdminSession>();

    /// <summary>Audit log of admin changes.</summary>
    public DbSet<AuditEntry> AuditLog => Set<AuditEntry>();

    /// <summary>Quota thresholds crossed: the webhooks' outbox, written with the usage.</summary>
    public DbSet<QuotaAlert> QuotaAlerts => Set<QuotaAlert>();

    /// <summary>Webhook endpoints.</summary>
    public DbSet<WebhookEndpoint> WebhookEndpoints => Set<WebhookEndpoint>();

    /// <summary>Webhook messages: one event for one endpoint, until delivered or failed.</summary>
    public DbSet<WebhookMessage> WebhookMessages => Set<WebhookMessage>();

    /// <summary>Delivery attempts of webhook messages.</summary>
    public DbSet<WebhookAttempt> WebhookAttempts => Set<WebhookAttempt>();

    /// <summary>Readies the database before the migrations run (SQLite: its folder and WAL mode); nothing by default.</summary>
    protected internal virtual Task PrepareDatabaseAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Whether <paramref name="exception"/> is this provider's unique or primary key violation.</summary>
    protected internal abstract bool IsUniqueViolation(Exception exception);

    /// <inheritdoc />
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        ArgumentNullException.ThrowIfNull(configurationBuilder);
        // Every time is UTC. Providers hand DateTime back as Unspecified; say what it is so JSON carries a 'Z'.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<UtcDateTimeConverter>();
        // Enums are stored by name so operators can read the tables directly.
        configurationBuilder.Properties<Enum>().HaveConversion<string>().HaveMaxLength(16);
    }

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(TollgateDbContext).Assembly);
    }

    private sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(
        v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(),
        v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
}

internal sealed class PlanConfiguration : IEntityTypeConfiguration<Plan>
{
    public void Configure(EntityTypeBuilder<Plan> b)
    {
        b.ToTable("plans");
        b.Property(p => p.Name).HasMaxLength(100);
        b.HasIndex(p => p.Name).IsUnique();
        b.Property(p => p.AlertThresholds).HasConversion(ThresholdsConversion.Converter, ThresholdsConversion.Comparer)
            .HasMaxLength(64).HasDefaultValue(Alerts.QuotaThresholds.Default.ToArray());
    }
}

internal sealed class TenantConfiguration : IEntityTypeConfiguration<Tenant>
{
    public void Configure(EntityTypeBuilder<Tenant> b)
    {
        b.ToTable("tenants");
        b.Property(t => t.Name).HasMaxLength(100);
        b.HasIndex(t => t.Name).IsUnique();
        b.HasOne(t => t.Plan).WithMany().HasForeignKey(t => t.PlanId).OnDelete(DeleteBehavior.Restrict);
        b.Property(t => t.AlertThresholdsOverride).HasConversion((ValueConverter)ThresholdsConversion.Converter, (Microsoft.EntityFrameworkCore.ChangeTracking.ValueComparer)ThresholdsConversion.Comparer).HasMaxLength(64);
    }
}

/// <summary>Alert thresholds stored as text (<c>80,100</c>): readable in every database, and a plan has a handful.</summary>
internal static class ThresholdsConversion
{
    public static readonly ValueConverter<int[], string> Converter = new(
        v => Alerts.QuotaThresholds.Format(v),
        v => Alerts.QuotaThresholds.Parse(v));

    public static readonly Microsoft.EntityFrameworkCore.ChangeTracking.ValueComparer<int[]> Comparer = new(
        (a, b) => a == null ? b == null : b != null && a.SequenceEqual(b),
        v => v.Aggregate(17, (h, t) => h * 31 + t),
        v => v.ToArray());
}

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> b)
    {
        b.ToTable("api_keys");
        b.Property(k => k.Name).HasMaxLength(100);
        b.Property(k => k.Hash).HasMaxLength(32);
        b.Property(k => k.Start).HasMaxLength(16);
        b.HasIndex(k => k.Hash).IsUnique();
        b.HasIndex(k => k.TenantId);
        b.HasOne<Tenant>().WithMany().HasForeignKey(k => k.TenantId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class UserConfiguration : IEntityTypeConfiguration<User>
{
    public void Configure(EntityTypeBuilder<User> b)
    {
        b.ToTable("users");
        b.Property(u => u.Username).HasMaxLength(User.MaxUsernameLength);
        b.HasIndex(u => new { u.TenantId, u.Username }).IsUnique();
        b.HasOne<Tenant>().WithMany().HasForeignKey(u => u.TenantId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class UsageLogConfiguration : IEntityTypeConfiguration<UsageLog>, IEntityTypeConfiguration<UsageEndpoint>
{
    public void Configure(EntityTypeBuilder<UsageLog> b)
    {
        // No foreign keys: the writer appends millions of rows and must not pay for checks, and the log
        // outlives deleted keys and tenants for the audit trail.
        b.ToTable(UsageTables.Logs);
        // Numbers, not text: on SQLite the text time (26 bytes, again in the index), outcome, method and endpoint made
        // a row and its index entry 121 bytes; these columns make them 50.5 (UsageTables.Logs).
        b.Property(l => l.Timestamp).HasColumnName(UsageTables.LogTime).HasConversion(UnixMilliseconds.Converter);
        b.Property(l => l.Outcome).HasConversion<short>();
        // Newest-first paging per tenant (the request log) is the one read path.
        b.HasIndex(l => new { l.TenantId, l.Timestamp });
    }

    public void Configure(EntityTypeBuilder<UsageEndpoint> b)
    {
        b.ToTable(UsageTables.Endpoints);
        b.Property(e => e.Method).HasMaxLength(8);
        b.Property(e => e.Endpoint).HasMaxLength(200);
        b.HasIndex(e => new { e.Method, e.Endpoint }).IsUnique();
    }
}

internal sealed class UsageRollupConfiguration :
    IEntityTypeConfiguration<UsageRollup>, IEntityTypeConfiguration<UsageRollupHour>, IEntityTypeConfiguration<UsageRollupDay>
{
    public void Configure(EntityTypeBuilder<UsageRollup> b) => Configure(b, UsageTables.Rollups);

    public void Configure(EntityTypeBuilder<UsageRollupHour> b) => Configure(b, UsageTables.HourRollups);

    public void Configure(EntityTypeBuilder<UsageRollupDay> b) => Configure(b, UsageTables.DayRollups);

    // Three tables with the same columns, not one with a tier column: retention deletes a tier by time alone, and a
    // 30-day chart reads ~720 hour rows per tenant from its own table's (tenant_id, bucket_start) range.
    private static void Configure<T>(EntityTypeBuilder<T> b, string table)
        where T : UsageRollupRow
    {
        b.ToTable(table);
        b.HasKey(r => new { r.TenantId, r.BucketStart, r.Method, r.Endpoint, r.StatusCode, r.Outcome });
        b.Property(r => r.Method).HasMaxLength(8);
        b.Property(r => r.Endpoint).HasMaxLength(200);
        b.HasIndex(r => r.BucketStart);
    }
}

internal sealed class GatewayRouteConfiguration : IEntityTypeConfiguration<GatewayRoute>
{
    public void Configure(EntityTypeBuilder<GatewayRoute> b)
    {
        b.ToTable("gateway_routes");
        b.Property(r => r.Path).HasMaxLength(GatewayRoute.MaxPathLength);
        b.Property(r => r.Upstream).HasMaxLength(GatewayRoute.MaxUpstreamLength);
        b.HasIndex(r => r.Path).IsUnique();
    }
}

internal sealed class QuotaCounterConfiguration : IEntityTypeConfiguration<QuotaCounter>
{
    public void Configure(EntityTypeBuilder<QuotaCounter> b)
    {
        b.ToTable(UsageTables.QuotaCounters);
        b.HasKey(c => new { c.TenantId, c.Period, c.PeriodStart });
    }
}

internal sealed class UsageWriterMarkConfiguration : IEntityTypeConfiguration<UsageWriterMark>
{
    public void Configure(EntityTypeBuilder<UsageWriterMark> b)
    {
        b.ToTable("usage_writer_marks");
        b.HasKey(m => m.WriterId);
        // A GUID's "N" form; fixed length keeps MySQL's key short.
        b.Property(m => m.WriterId).HasMaxLength(32);
    }
}

internal sealed class AdminConfiguration : IEntityTypeConfiguration<Admin>
{
    public void Configure(EntityTypeBuilder<Admin> b)
    {
        b.ToTable("admins");
        b.Property(a => a.Username).HasMaxLength(100);
        b.Property(a => a.TotpSecret).HasMaxLength(64);
        b.Property(a => a.RecoveryCodeHashes).HasMaxLength(1000);
        b.HasIndex(a => a.Username).IsUnique();
        b.HasOne<Tenant>().WithMany().HasForeignKey(a => a.TenantId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class AuditEntryConfiguration : IEntityTypeConfiguration<AuditEntry>
{
    public void Configure(EntityTypeBuilder<AuditEntry> b)
    {
        b.ToTable("audit_log");
        b.Property(a => a.Actor).HasMaxLength(100);
        b.Property(a => a.Action).HasMaxLength(64);
        b.Property(a => a.Target).HasMaxLength(100);
        b.HasIndex(a => a.Timestamp);
        // Login throttling reads a name's recent login.failure/login.success rows before it hashes a password.
        b.HasIndex(a => new { a.Target, a.Timestamp });
    }
}

internal sealed class AdminSessionConfiguration : IEntityTypeConfiguration<AdminSession>
{
    public void Configure(EntityTypeBuilder<AdminSession> b)
    {
        b.ToTable("admin_sessions");
        b.HasKey(s => s.KeyHash);
        b.Property(s => s.KeyHash).HasMaxLength(32);
        b.HasIndex(s => s.AdminId);
        b.HasIndex(s => s.ExpiresAt);
        // Deleting an admin (or its tenant, which deletes tenant admins) ends its sessions in the same statement.
        b.HasOne<Admin>().WithMany().HasForeignKey(s => s.AdminId).OnDelete(DeleteBehavior.Cascade);
    }
}
