import type { Schema } from '@cap/campaign-schema';
import { renderDataModelHtml, type HtmlOptions } from './datamodel-html.renderer';
import { renderDataModelJson } from './datamodel-json.renderer';
import { renderDataModelMarkdown } from './datamodel-markdown.renderer';
import { renderErDot } from './er-dot.renderer';
import { renderErMermaid } from './er-mermaid.renderer';

export interface DataModelDocs {
  markdown: string;
  html: string;
  json: string;
  mermaid: string;
  dot: string;
}

/** Every description of the data model, from the compiled schemas (Campaign's "full description of your data model"). */
export function generateDataModelDocs(schemas: ReadonlyMap<string, Schema>, options: HtmlOptions = {}): DataModelDocs {
  return {
    markdown: renderDataModelMarkdown(schemas),
    html: renderDataModelHtml(schemas, options),
    json: renderDataModelJson(schemas),
    mermaid: renderErMermaid(schemas),
    dot: renderErDot(schemas),
  };
}
