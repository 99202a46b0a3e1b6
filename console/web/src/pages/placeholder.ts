// A page another part of the console fills in.
import { h, replace } from "../lib/dom";
import { RouteContext } from "../lib/router";
import { pageHeader } from "../lib/ui";

export function placeholder(title: string) {
  return (ctx: RouteContext): void => {
    replace(ctx.main, pageHeader(title), h("p", null, "This page is not built yet."));
  };
}
