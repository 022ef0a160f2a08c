using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Tollgate.Data.Migrations.Postgres
{
    /// <summary>
    /// The raw log becomes lean (<c>usage_log_entries</c>: Unix milliseconds, an endpoint id in <c>usage_endpoints</c>,
    /// a numeric outcome) and <c>usage_logs</c> becomes a view that reads it with the contract's columns.
    /// </summary>
    public partial class LeanUsageLogs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "usage_endpoints",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    method = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false),
                    endpoint = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_endpoints", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_usage_endpoints_method_endpoint",
                table: "usage_endpoints",
                columns: new[] { "method", "endpoint" },
                unique: true);

            migrationBuilder.CreateTable(
                name: "usage_log_entries",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    tenant_id = table.Column<long>(type: "bigint", nullable: false),
                    api_key_id = table.Column<long>(type: "bigint", nullable: false),
                    time_ms = table.Column<long>(type: "bigint", nullable: false),
                    endpoint_id = table.Column<int>(type: "integer", nullable: false),
                    status_code = table.Column<int>(type: "integer", nullable: false),
                    latency_micros = table.Column<long>(type: "bigint", nullable: false),
                    upstream_latency_micros = table.Column<long>(type: "bigint", nullable: false),
                    outcome = table.Column<short>(type: "smallint", maxLength: 16, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_log_entries", x => x.id);
                });

            // The rows move over with their ids (retention deletes by id ranges that follow time), the text columns
            // turned into numbers and endpoint ids; the index is built after the copy, which is faster than along it.
            migrationBuilder.Sql("""
                INSERT INTO usage_endpoints (method, endpoint) SELECT DISTINCT method, endpoint FROM usage_logs;
                """);
            migrationBuilder.Sql("""
                INSERT INTO usage_log_entries (id, tenant_id, api_key_id, time_ms, endpoint_id, status_code, latency_micros, upstream_latency_micros, outcome)
                SELECT l.id, l.tenant_id, l.api_key_id, floor(extract(epoch from l."timestamp") * 1000)::bigint, e.id, l.status_code, l.latency_micros, l.upstream_latency_micros,
                       CASE l.outcome WHEN 'Admitted' THEN 0 WHEN 'RateLimited' THEN 1 ELSE 2 END
                FROM usage_logs l JOIN usage_endpoints e ON e.method = l.method AND e.endpoint = l.endpoint;
                """);
            migrationBuilder.Sql("""
                SELECT setval(pg_get_serial_sequence('usage_log_entries', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM usage_log_entries;
                """);

            migrationBuilder.CreateIndex(
                name: "ix_usage_log_entries_tenant_id_time_ms",
                table: "usage_log_entries",
                columns: new[] { "tenant_id", "time_ms" });

            migrationBuilder.DropTable(
                name: "usage_logs");

            // The contract's columns (CONTRACT §2), for operators who query the tables directly.
            migrationBuilder.Sql("""
                CREATE VIEW usage_logs AS
                SELECT l.id, l.tenant_id, l.api_key_id, to_timestamp(l.time_ms / 1000.0) AS "timestamp", e.method, e.endpoint, l.status_code,
                       l.latency_micros, l.upstream_latency_micros,
                       CASE l.outcome WHEN 0 THEN 'Admitted' WHEN 1 THEN 'RateLimited' WHEN 2 THEN 'QuotaExceeded' END AS outcome
                FROM usage_log_entries l JOIN usage_endpoints e ON e.id = l.endpoint_id;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP VIEW usage_logs;");

            migrationBuilder.CreateTable(
                name: "usage_logs",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    tenant_id = table.Column<long>(type: "bigint", nullable: false),
                    api_key_id = table.Column<long>(type: "bigint", nullable: false),
                    timestamp = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    method = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false),
                    endpoint = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    status_code = table.Column<int>(type: "integer", nullable: false),
                    latency_micros = table.Column<long>(type: "bigint", nullable: false),
                    outcome = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    upstream_latency_micros = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_logs", x => x.id);
                });

            migrationBuilder.Sql("""
                INSERT INTO usage_logs (id, tenant_id, api_key_id, "timestamp", method, endpoint, status_code, latency_micros, upstream_latency_micros, outcome)
                SELECT l.id, l.tenant_id, l.api_key_id, to_timestamp(l.time_ms / 1000.0), e.method, e.endpoint, l.status_code, l.latency_micros, l.upstream_latency_micros,
                       CASE l.outcome WHEN 0 THEN 'Admitted' WHEN 1 THEN 'RateLimited' ELSE 'QuotaExceeded' END
                FROM usage_log_entries l JOIN usage_endpoints e ON e.id = l.endpoint_id;
                """);
            migrationBuilder.Sql("""
                SELECT setval(pg_get_serial_sequence('usage_logs', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM usage_logs;
                """);

            migrationBuilder.CreateIndex(
                name: "ix_usage_logs_tenant_id_timestamp",
                table: "usage_logs",
                columns: new[] { "tenant_id", "timestamp" });

            migrationBuilder.DropTable(
                name: "usage_log_entries");

            migrationBuilder.DropTable(
                name: "usage_endpoints");
        }
    }
}
