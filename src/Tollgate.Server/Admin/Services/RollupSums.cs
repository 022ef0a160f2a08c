using System.Linq.Expressions;
using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Admin;

/// <summary>Sums of a group of roll-ups: counts and the merged latency histogram.</summary>
/// <typeparam name="TKey">What the roll-ups were grouped by.</typeparam>
internal sealed class RollupSums<TKey>
{
    // Declared before Projection, which reads it: static fields initialize in the order they are written.
    /// <summary><c>Enumerable.Sum&lt;UsageRollup&gt;(source, Func&lt;UsageRollup, long&gt;)</c>, the call EF translates to SQL SUM.</summary>
    private static readonly MethodInfo SumOfLong = typeof(Enumerable).GetMethods()
        .Single(m => m.Name == nameof(Enumerable.Sum) && m.IsGenericMethodDefinition
            && m.GetParameters() is [_, { ParameterType: { IsGenericType: true } selector }]
            && selector.GetGenericTypeDefinition() == typeof(Func<,>)
            && selector.GetGenericArguments()[1] == typeof(long))
        .MakeGenericMethod(typeof(UsageRollup));

    /// <summary>The group's key.</summary>
    public required TKey Key { get; init; }

    /// <summary>Sum of the latencies, in microseconds.</summary>
    public long LatencySum { get; init; }

    /// <summary>Sum of the upstream latencies (gateway routes), in microseconds.</summary>
    public long UpstreamLatencySum { get; init; }

    /// <summary>Metered requests, refused ones included.</summary>
    public long Requests { get; init; }

    /// <summary>Admitted requests answered 4xx or 5xx.</summary>
    public long Errors { get; init; }

    /// <summary>Requests refused by a limit.</summary>
    public long Rejected { get; init; }

    /// <summary>The merged latency histogram, one count per <see cref="LatencyHistogram.ColumnNames"/> column.</summary>
    public required long[] Histogram { get; init; }

    /// <summary>
    /// <c>g =&gt; new RollupSums { Key = g.Key, Requests = g.Sum(r =&gt; r.Count), …, Histogram = new[] { g.Sum(r =&gt;
    /// EF.Property&lt;long&gt;(r, "le_50us")), … } }</c>, built once per key type from
    /// <see cref="LatencyHistogram.ColumnNames"/> so the database sums every histogram column and the column list is
    /// written in one place only.
    /// </summary>
    public static readonly Expression<Func<IGrouping<TKey, UsageRollup>, RollupSums<TKey>>> Projection = Build();

    private static Expression<Func<IGrouping<TKey, UsageRollup>, RollupSums<TKey>>> Build()
    {
        var g = Expression.Parameter(typeof(IGrouping<TKey, UsageRollup>), "g");
        Expression Sum(Expression<Func<UsageRollup, long>> selector) => Expression.Call(SumOfLong, g, selector);

        var histogram = LatencyHistogram.ColumnNames.Select(column =>
        {
            var r = Expression.Parameter(typeof(UsageRollup), "r");
            var property = Expression.Call(typeof(EF), nameof(EF.Property), [typeof(long)], r, Expression.Constant(column));
            return Sum(Expression.Lambda<Func<UsageRollup, long>>(property, r));
        });

        var type = typeof(RollupSums<TKey>);
        var body = Expression.MemberInit(
            Expression.New(type),
            Expression.Bind(type.GetProperty(nameof(Key))!, Expression.Property(g, nameof(IGrouping<TKey, UsageRollup>.Key))),
            Expression.Bind(type.GetProperty(nameof(Requests))!, Sum(r => r.Count)),
            Expression.Bind(type.GetProperty(nameof(Errors))!,
                Sum(r => r.Outcome == LimitOutcome.Admitted && r.StatusCode >= 400 ? r.Count : 0L)),
            Expression.Bind(type.GetProperty(nameof(Rejected))!,
                Sum(r => r.Outcome != LimitOutcome.Admitted ? r.Count : 0L)),
            Expression.Bind(type.GetProperty(nameof(LatencySum))!, Sum(r => r.LatencySumMicros)),
            Expression.Bind(type.GetProperty(nameof(UpstreamLatencySum))!, Sum(r => r.UpstreamLatencySumMicros)),
            Expression.Bind(type.GetProperty(nameof(Histogram))!, Expression.NewArrayInit(typeof(long), histogram)));
        return Expression.Lambda<Func<IGrouping<TKey, UsageRollup>, RollupSums<TKey>>>(body, g);
    }
}
