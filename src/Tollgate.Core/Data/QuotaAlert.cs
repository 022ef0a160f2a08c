using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Tollgate.Usage;

namespace Tollgate.Data;

/// <summary>
/// A tenant's usage crossed one of its alert thresholds in a quota period: the webhooks' outbox. The usage writer
/// inserts it in the same transaction as the usage of the request that crossed, with insert-or-ignore on
/// (tenant, threshold, period, period start), so each is stored once however often the batch is written or replayed;
/// the webhook dispatcher then turns it into one message per subscribed endpoint.
/// </summary>
public sealed class QuotaAlert
{
    /// <summary>Primary key.</summary>
    public long Id { get; set; }

    /// <summary>The tenant.</summary>
    public long TenantId { get; set; }

    /// <summary>The percentage of the quota crossed.</summary>
    public int Threshold { get; set; }

    /// <summary>The quota period kind.</summary>
    public QuotaPeriod Period { get; set; }

    /// <summary>Start of the period (UTC); a new period re-arms every threshold.</summary>
    public DateTime PeriodStart { get; set; }

    /// <summary>The quota count right after the crossing request.</summary>
    public long Used { get; set; }

    /// <summary>The quota at the time.</summary>
    public long QuotaLimit { get; set; }

    /// <summary>When the crossing request arrived (UTC).</summary>
    public DateTime CrossedAt { get; set; }

    /// <summary>When the dispatcher made its webhook messages (UTC); null while that is still to do.</summary>
    public DateTime? FannedOutAt { get; set; }
}

internal sealed class QuotaAlertConfiguration : IEntityTypeConfiguration<QuotaAlert>
{
    public void Configure(EntityTypeBuilder<QuotaAlert> b)
    {
        // No foreign key, as for the other tables the usage writer fills: it must not pay for checks.
        b.ToTable(UsageTables.QuotaAlerts);
        b.HasIndex(a => new { a.TenantId, a.Threshold, a.Period, a.PeriodStart }).IsUnique();
        b.HasIndex(a => a.FannedOutAt);
    }
}
