import { parseXml } from '@cap/campaign-xml';
import { compileQueryDef } from './libs/campaign/query/src/index';
import { compileBuiltinSchemas } from './libs/campaign/query/test/builtin-schemas.fixture';
const schemas = compileBuiltinSchemas();
const cases: Record<string, string> = {
joins: `<queryDef schema="nms:recipient" operation="select" lineCount="50" startLine="100">
  <select><node expr="@email"/><node expr="[location/@city]" alias="@city"/><node expr="[folder/@label]"/><node expr="[folder/@name]"/><node expr="[folder/parent/@label]"/></select>
  <where><condition expr="@blackList = false"/></where>
  <orderBy><node expr="@lastName" sortDesc="true"/><node expr="@email"/></orderBy></queryDef>`,
andor: `<queryDef schema="nms:recipient">
  <select><node expr="@id"/></select>
  <where>
    <condition expr="@firstName = 'Ann'" boolOperator="OR"/>
    <condition expr="@lastName = 'Lee'"/>
    <condition bool-operator="OR"><condition expr="@gender = 1" boolOperator="OR"/><condition expr="@gender = 2"/></condition>
    <condition expr="@email IS NOT NULL AND (@emailFormat = 2 OR NOT @blackList)"/>
  </where></queryDef>`,
inlike: `<queryDef schema="nms:recipient">
  <select><node expr="@id"/></select>
  <where>
    <condition expr="@gender IN (1, 2)"/><condition expr="[location/@countryCode] NOT IN ('FR', 'DE')"/>
    <condition expr="Lower(@email) LIKE '%@example.com'"/><condition expr="@lastName NOT LIKE 'X\\_%'"/>
    <condition expr="comment IS NULL"/><condition expr="[folder/@label] IS NOT NULL"/>
  </where></queryDef>`,
dates: `<queryDef schema="nms:recipient">
  <select><node expr="@id"/><node expr="Year(@created)" alias="@year"/><node expr="DateOnly(@created)" alias="@day"/></select>
  <where>
    <condition expr="@birthDate &lt; #2002/02/01#"/><condition expr="@created &gt;= #2024-12-01#"/>
    <condition expr="@lastModified &lt; #2024-12-01 10:00:00#"/><condition expr="@created &lt;= GetDate()"/>
    <condition expr="Month(@birthDate) = 12"/>
  </where></queryDef>`,
subq: `<queryDef schema="nms:recipient">
  <select><node expr="@email"/></select>
  <where>
    <condition setOperator="EXISTS"><subQuery schema="nms:subscription"><where><condition expr="[@recipient-id] = [../@id]"/><condition expr="[service/@name] = 'newsletter'"/></where></subQuery></condition>
    <condition expr="@id" setOperator="NOT IN"><subQuery schema="nms:subscription"><select><node expr="[@recipient-id]"/></select><where><condition expr="@expirationDate &lt; #2024-01-01#"/></where></subQuery></condition>
  </where></queryDef>`,
exists: `<queryDef schema="nms:recipient">
  <select><node expr="@email"/></select>
  <where>
    <condition expr="subscription"/>
    <condition expr="subscription" setOperator="NOT EXISTS"><condition expr="[service/@name] = 'sms'"/><condition expr="@expirationDate IS NULL"/></condition>
    <condition expr="Count([subscription/@id]) &gt;= 2"/>
  </where></queryDef>`,
group: `<queryDef schema="nms:recipient">
  <select><node expr="[location/@city]" alias="@city" groupBy="true"/><node expr="Count(@id)" alias="@total"/><node expr="CountDistinct(@lastName)" alias="@names"/><node expr="Avg(Year(@birthDate))" alias="@avgYear"/></select>
  <where><condition expr="@blackList = false"/></where>
  <groupBy><node expr="@gender"/></groupBy>
  <having><condition expr="Count(@id) &gt; 10"/></having>
  <orderBy><node expr="@total" sortDesc="true"/></orderBy></queryDef>`,
count: `<queryDef schema="nms:recipient" operation="count"><select><node expr="@email"/></select><where><condition expr="[folder/@name] = 'nmsRootRecipient'"/></where><orderBy><node expr="@email"/></orderBy></queryDef>`,
countGroup: `<queryDef schema="nms:recipient" operation="count"><groupBy><node expr="GetEmailDomain(@email)"/></groupBy><having><condition expr="countall() &gt; 1"/></having></queryDef>`,
get: `<queryDef schema="nms:service" operation="get"><select><node expr="@name"/><node expr="@type" analyze="true"/><node expr="[folder/@label]"/></select><where><condition expr="@name = 'newsletter'"/></where></queryDef>`,
getIfExists: `<queryDef schema="xtk:folder" operation="getIfExists" lineCount="99"><select><node expr="@name"/></select><where><condition expr="@id = 12345678901234567890"/></where></queryDef>`,
functions: `<queryDef schema="nms:recipient" distinct="true">
  <select><node expr="@lastName + ', ' + Upper(@firstName)" alias="@display"/><node expr="Substring(Trim(@phone), 1, 3)" alias="@prefix"/>
  <node expr="Iif(@gender = 1, 'M', 'F')" alias="@g"/><node expr="IsNull(@mobilePhone, @phone)" alias="@tel"/><node expr="Round(Length(@email) / 3.0, 2)" alias="@r"/>
  <node expr="Coalesce([location/@city], 'unknown')" alias="@city"/><node expr="-Abs(@emailFormat) * 2 + 1" alias="@n"/></select></queryDef>`,
};
for (const [name, xml] of Object.entries(cases)) { const c = compileQueryDef(parseXml(xml), schemas); console.log(`== ${name}\n${c.sql}\n${JSON.stringify(c.params)}\n${JSON.stringify(c.shape.columns.map(x=>[x.path.join('/'), x.name, x.isElement, x.type, !!x.enumeration]))}`); }
