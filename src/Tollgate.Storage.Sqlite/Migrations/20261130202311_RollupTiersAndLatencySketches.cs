using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tollgate.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class RollupTiersAndLatencySketches : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "le_100ms",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_100us",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_10ms",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_10s",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_1ms",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_1s",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_250ms",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_250us",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_25ms",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_2_5ms",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_2_5s",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_500ms",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_500us",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_50ms",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_50us",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_5ms",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_5s",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "le_inf",
                table: "usage_rollups");

            migrationBuilder.AddColumn<byte[]>(
                name: "latency_sketch",
                table: "usage_rollups",
                type: "BLOB",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "usage_rollups_day",
                columns: table => new
                {
                    tenant_id = table.Column<long>(type: "INTEGER", nullable: false),
                    bucket_start = table.Column<DateTime>(type: "TEXT", nullable: false),
                    method = table.Column<string>(type: "TEXT", maxLength: 8, nullable: false),
                    endpoint = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    status_code = table.Column<int>(type: "INTEGER", nullable: false),
                    outcome = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    count = table.Column<long>(type: "INTEGER", nullable: false),
                    latency_sum_micros = table.Column<long>(type: "INTEGER", nullable: false),
                    upstream_latency_sum_micros = table.Column<long>(type: "INTEGER", nullable: false),
                    latency_sketch = table.Column<byte[]>(type: "BLOB", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_rollups_day", x => new { x.tenant_id, x.bucket_start, x.method, x.endpoint, x.status_code, x.outcome });
                });

            migrationBuilder.CreateTable(
                name: "usage_rollups_hour",
                columns: table => new
                {
                    tenant_id = table.Column<long>(type: "INTEGER", nullable: false),
                    bucket_start = table.Column<DateTime>(type: "TEXT", nullable: false),
                    method = table.Column<string>(type: "TEXT", maxLength: 8, nullable: false),
                    endpoint = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    status_code = table.Column<int>(type: "INTEGER", nullable: false),
                    outcome = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    count = table.Column<long>(type: "INTEGER", nullable: false),
                    latency_sum_micros = table.Column<long>(type: "INTEGER", nullable: false),
                    upstream_latency_sum_micros = table.Column<long>(type: "INTEGER", nullable: false),
                    latency_sketch = table.Column<byte[]>(type: "BLOB", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_rollups_hour", x => new { x.tenant_id, x.bucket_start, x.method, x.endpoint, x.status_code, x.outcome });
                });

            migrationBuilder.CreateIndex(
                name: "ix_usage_rollups_day_bucket_start",
                table: "usage_rollups_day",
                column: "bucket_start");

            migrationBuilder.CreateIndex(
                name: "ix_usage_rollups_hour_bucket_start",
                table: "usage_rollups_hour",
                column: "bucket_start");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "usage_rollups_day");

            migrationBuilder.DropTable(
                name: "usage_rollups_hour");

            migrationBuilder.DropColumn(
                name: "latency_sketch",
                table: "usage_rollups");

            migrationBuilder.AddColumn<long>(
                name: "le_100ms",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_100us",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_10ms",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_10s",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_1ms",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_1s",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_250ms",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_250us",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_25ms",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_2_5ms",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_2_5s",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_500ms",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_500us",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_50ms",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_50us",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_5ms",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_5s",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "le_inf",
                table: "usage_rollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);
        }
    }
}
