using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;

namespace Tollgate.Core.Tests.Limits;

public sealed class LimitPolicyTests
{
    [Theory]
    [InlineData(0, 1000, UsageStatus.Normal)]
    [InlineData(799, 1000, UsageStatus.Normal)]
    [InlineData(800, 1000, UsageStatus.Warning)]
    [InlineData(999, 1000, UsageStatus.Warning)]
    [InlineData(1000, 1000, UsageStatus.Blocked)]
    [InlineData(3, 3, UsageStatus.Blocked)]
    [InlineData(2, 3, UsageStatus.Normal)]
    [InlineData(4, 5, UsageStatus.Warning)]
    public void Status_ThresholdsAt80And100Percent(long used, long limit, UsageStatus expected) =>
        Assert.Equal(expected, QuotaUsage.StatusOf(used, limit));

    [Fact]
    public void TenantContext_WithoutOverrides_TakesThePlan()
    {
        var plan = new Plan { Id = 1, Name = "Pro", QuotaLimit = 100_000, QuotaPeriod = QuotaPeriod.Month, RateLimit = 50, RateWindowSeconds = 1 };
        var tenant = new Tenant { Id = 2, Name = "Acme", PlanId = 1 };
        Assert.Equal(new LimitPolicy(100_000, QuotaPeriod.Month, 50, 1), TenantContext.From(tenant, plan).Policy);
    }

    [Fact]
    public void TenantContext_WithOverrides_ReplacesQuotaAndRate()
    {
        var plan = new Plan { Id = 1, Name = "Basic", QuotaLimit = 1000, QuotaPeriod = QuotaPeriod.Month };
        var tenant = new Tenant
        {
            Id = 2, Name = "Acme", PlanId = 1,
            QuotaOverrideLimit = 50, QuotaOverridePeriod = QuotaPeriod.Day,
            RateOverrideLimit = 5, RateOverrideWindowSeconds = 10,
        };
        Assert.Equal(new LimitPolicy(50, QuotaPeriod.Day, 5, 10), TenantContext.From(tenant, plan).Policy);
    }

    [Fact]
    public void Periods_MonthEndsAtTheFirstOfTheNextMonthUtc_AcrossTheYear()
    {
        var start = QuotaPeriods.StartOf(QuotaPeriod.Month, new DateTime(2026, 12, 31, 23, 0, 0, DateTimeKind.Utc));
        Assert.Equal(new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc), start);
        Assert.Equal(new DateTime(2027, 1, 1, 0, 0, 0, DateTimeKind.Utc), QuotaPeriods.NextStart(QuotaPeriod.Month, start));
    }
}
