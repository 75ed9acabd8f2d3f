/**
 * Public DynamoDB on-demand prices `ferry plan` turns capacity units into dollars with.
 * Source: https://aws.amazon.com/dynamodb/pricing/on-demand/ (us-east-1, Standard table
 * class), the prices in force since the on-demand price cut of 1 November 2024.
 */

export const PRICING_SOURCE = "https://aws.amazon.com/dynamodb/pricing/on-demand/";
export const PRICING_REGION = "us-east-1";
/** The date the prices below took effect (and were last checked against the page). */
export const PRICES_AS_OF = "2024-11-01";

/** US dollars per million write request units (on-demand, Standard table class). */
export const ON_DEMAND_USD_PER_MILLION_WRITE_UNITS = 0.625;
/** US dollars per million read request units (on-demand, Standard table class). */
export const ON_DEMAND_USD_PER_MILLION_READ_UNITS = 0.125;

export interface CostEstimate {
  writeUsd: number;
  readUsd: number;
  totalUsd: number;
  prices: {
    region: string;
    asOf: string;
    source: string;
    usdPerMillionWriteUnits: number;
    usdPerMillionReadUnits: number;
  };
}

/** On-demand cost of consuming `writeUnits` and `readUnits`. */
export function onDemandCost(writeUnits: number, readUnits: number): CostEstimate {
  const writeUsd = (writeUnits / 1_000_000) * ON_DEMAND_USD_PER_MILLION_WRITE_UNITS;
  const readUsd = (readUnits / 1_000_000) * ON_DEMAND_USD_PER_MILLION_READ_UNITS;
  return {
    writeUsd,
    readUsd,
    totalUsd: writeUsd + readUsd,
    prices: {
      region: PRICING_REGION,
      asOf: PRICES_AS_OF,
      source: PRICING_SOURCE,
      usdPerMillionWriteUnits: ON_DEMAND_USD_PER_MILLION_WRITE_UNITS,
      usdPerMillionReadUnits: ON_DEMAND_USD_PER_MILLION_READ_UNITS,
    },
  };
}
