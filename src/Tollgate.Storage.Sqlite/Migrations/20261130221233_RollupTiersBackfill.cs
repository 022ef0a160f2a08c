using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tollgate.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class RollupTiersBackfill : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Apart from the migration that makes the tables: SQLite rebuilds usage_rollups there (a dropped column), and
            // EF Core runs SQL beside a pending rebuild with a warning on every first start.
            // The new tiers start with what the minute roll-ups hold: exact counts for every hour and day already
            // metered. Their latency distributions were 18 coarse buckets, which a sketch cannot be made from; those
            // minutes, and the hours and days made from them, report no percentiles.
            migrationBuilder.Sql("INSERT INTO usage_rollups_hour (tenant_id, bucket_start, method, endpoint, status_code, outcome, count, latency_sum_micros, upstream_latency_sum_micros) SELECT tenant_id, substr(bucket_start, 1, 13) || ':00:00', method, endpoint, status_code, outcome, SUM(count), SUM(latency_sum_micros), SUM(upstream_latency_sum_micros) FROM usage_rollups GROUP BY tenant_id, substr(bucket_start, 1, 13) || ':00:00', method, endpoint, status_code, outcome;");
            migrationBuilder.Sql("INSERT INTO usage_rollups_day (tenant_id, bucket_start, method, endpoint, status_code, outcome, count, latency_sum_micros, upstream_latency_sum_micros) SELECT tenant_id, substr(bucket_start, 1, 10) || ' 00:00:00', method, endpoint, status_code, outcome, SUM(count), SUM(latency_sum_micros), SUM(upstream_latency_sum_micros) FROM usage_rollups GROUP BY tenant_id, substr(bucket_start, 1, 10) || ' 00:00:00', method, endpoint, status_code, outcome;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // The previous migration drops the tiers' tables.
        }
    }
}
