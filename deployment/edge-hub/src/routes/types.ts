/** Public types of the route engine. Every object the engine returns is frozen. */

import type { RoutePosition } from './errors.js';

/** What produced a message; decides its routing source (see {@link messageSourcePath}). */
export type RouteMessageKind = 'telemetry' | 'twinChangeNotification';

/** The sender of a message as the broker saw it. */
export interface RouteMessageSource {
  readonly kind: RouteMessageKind;
  /** Device id of the sender (`connectionDeviceId`). */
  readonly deviceId: string;
  /** Module id of the sender; absent for leaf-device telemetry. */
  readonly moduleId?: string | undefined;
  /** Output name (`sendOutputEvent`); absent for `sendEvent`. */
  readonly outputName?: string | undefined;
}

/**
 * A message to route. Property names are matched case-insensitively. `systemProperties` uses edgeHub's
 * internal keys (`contentType`, `contentEncoding`, `messageId`, `cid`, `connectionDeviceId`,
 * `connectionModuleId`, `outputName`, …), not the `$.ct`-style wire keys; conditions read them as
 * `$contentType` etc., so the broker should fill them in as edgeHub does.
 */
export interface RouteMessage {
  readonly source: RouteMessageSource;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly properties: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** Where a route delivers: the cloud, or one input of one module. */
export type RouteEndpoint =
  | {
      readonly kind: 'upstream';
      /** Grouping key: `$upstream`. */
      readonly id: string;
    }
  | {
      readonly kind: 'module';
      /** Grouping key `<moduleId>/<inputName>` (case-sensitive, as edgeHub's endpoint ids). */
      readonly id: string;
      readonly moduleId: string;
      readonly inputName: string;
    };

/**
 * What a route's FROM selects, after edgeHub's normalisation (trailing `*` and `/` removed). Matching is a
 * case-insensitive prefix test on whole path segments.
 */
export type RouteSourceSelector =
  | { readonly kind: 'all' } // FROM /*
  | { readonly kind: 'allMessages' } // FROM /messages/* : module and leaf-device telemetry
  | { readonly kind: 'allModuleMessages' } // FROM /messages/modules/*
  | { readonly kind: 'module'; readonly moduleId: string } // FROM /messages/modules/<m>/*
  | { readonly kind: 'moduleOutputs'; readonly moduleId: string } // FROM /messages/modules/<m>/outputs/*
  | { readonly kind: 'output'; readonly moduleId: string; readonly outputName: string } // …/outputs/<o>
  | { readonly kind: 'twinChangeNotifications' } // FROM /twinChangeNotifications
  | { readonly kind: 'none' }; // a path no message source can start with

/** The FROM part of a compiled route. */
export interface RouteSource {
  /** FROM as written, whitespace and comments removed (e.g. `/messages/modules/filter/outputs/*`). */
  readonly text: string;
  /** Normalised prefix with one trailing `/`, e.g. `/messages/modules/filter/outputs/`; `/` for `/*`. */
  readonly prefix: string;
  readonly selector: RouteSourceSelector;
}

/** Result of evaluating a condition: only `'true'` routes. */
export type RouteConditionResult = 'true' | 'false' | 'undefined';

/** A condition compiled once into a closure. */
export interface CompiledCondition {
  /** The condition text (`'true'` for a route without WHERE). */
  readonly text: string;
  /** Evaluates the condition against a message with edgeHub's three-valued logic. Never throws. */
  evaluate(message: RouteMessage): RouteConditionResult;
}

/** One compiled route. */
export interface CompiledRoute {
  readonly name: string;
  /** The route string as configured. */
  readonly route: string;
  readonly source: RouteSource;
  readonly condition: CompiledCondition;
  readonly sink: RouteEndpoint;
  /** 0 (most urgent) to 9, or 2000000000 when the route names none. */
  readonly priority: number;
  /** The route's own TTL in seconds; 0 means the global `storeAndForwardConfiguration.timeToLiveSecs`. */
  readonly timeToLiveSecs: number;
  /** True when the message's source is selected by FROM and the condition is True. */
  matches(message: RouteMessage): boolean;
}

/** Something legal but probably unintended, worth one log line. */
export interface RouteWarning {
  readonly path: string;
  readonly routeName?: string;
  readonly position?: RoutePosition;
  readonly message: string;
}

/** `storeAndForwardConfiguration` of `$edgeHub`. */
export interface StoreAndForwardConfig {
  /** Global message TTL in seconds; negative means never expire. */
  readonly timeToLiveSecs: number;
  /** In-memory store limit, when configured. */
  readonly storeLimits?: { readonly maxSizeBytes: number };
}

/** One delivery decided by the route table. */
export interface RouteMatch {
  readonly endpoint: RouteEndpoint;
  /** Priority of the winning route (lowest number among the routes that matched this endpoint). */
  readonly priority: number;
  /**
   * TTL of the delivery in seconds: the winning route's `timeToLiveSecs`, or the global TTL when that is 0.
   * `Infinity` when the global TTL is negative (never expire).
   */
  readonly timeToLiveSecs: number;
  readonly routeName: string;
}

/** Validated `$edgeHub` routing configuration with its compiled routes. */
export interface CompiledRouteTable {
  /** `schemaVersion` as configured ("1.0" … "1.3"). */
  readonly schemaVersion: string;
  /** Routes in configuration order. */
  readonly routes: readonly CompiledRoute[];
  /** Absent only with schema 1.0, which does not require it. */
  readonly storeAndForward: StoreAndForwardConfig | undefined;
  /** Global TTL in seconds applied to routes without their own; `Infinity` for "never expire". */
  readonly globalTimeToLiveSecs: number;
  readonly warnings: readonly RouteWarning[];
  /**
   * Routes a message: every route whose FROM selects the message and whose condition is True, grouped by
   * endpoint, keeping per endpoint the route with the lowest priority number (the first configured on a tie).
   * At most one entry per endpoint, in order of first match. Never throws for a well-formed message.
   */
  match(message: RouteMessage): readonly RouteMatch[];
}

/** One row of {@link routeEndpoints}: what a route connects, for manifest checks. */
export interface RouteEndpointSummary {
  readonly routeName: string;
  readonly source: RouteSourceSelector;
  readonly sink: RouteEndpoint;
}
